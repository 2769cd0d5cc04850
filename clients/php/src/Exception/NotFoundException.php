<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** 404: no such route, export or template (another tenant's export is also 404). */
class NotFoundException extends YbbException
{
}
