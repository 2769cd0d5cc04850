<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** 409: the file of an export that has not succeeded (not_ready), cancelling an ended export (already_finished). */
class ConflictException extends YbbException
{
}
