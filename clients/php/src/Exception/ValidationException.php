<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** 400, 415 and 422: the request or its records are invalid; getErrors() names the fields or rows. */
class ValidationException extends YbbException
{
}
