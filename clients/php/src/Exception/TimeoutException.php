<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** A request, or waiting for an export, took longer than the configured timeout. */
class TimeoutException extends TransportException
{
}
