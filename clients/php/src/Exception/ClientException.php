<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** Any other 4xx answer (405, ...). */
class ClientException extends YbbException
{
}
