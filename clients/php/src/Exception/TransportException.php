<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** No HTTP answer: connection refused, TLS failure, timeout (see TimeoutException). */
class TransportException extends YbbException
{
}
