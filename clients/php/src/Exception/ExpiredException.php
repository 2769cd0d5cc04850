<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** 410: the export's file has expired. */
class ExpiredException extends YbbException
{
}
