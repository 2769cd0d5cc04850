<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** 401 (no or wrong API key) and 403 (the key lacks the scope). */
class AuthenticationException extends YbbException
{
}
