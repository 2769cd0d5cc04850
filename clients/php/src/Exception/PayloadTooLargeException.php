<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** 413: the body is over the service's limit; send the records with uploadInBatches(). */
class PayloadTooLargeException extends YbbException
{
}
