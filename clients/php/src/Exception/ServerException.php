<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/**
 * 5xx: a bug (500 internal_error), Nginx could not reach the API (502), the cluster or the
 * service is unavailable (503, with getRetryAfter()), or the API timed out (504: use an
 * asynchronous export).
 */
class ServerException extends YbbException
{
}
