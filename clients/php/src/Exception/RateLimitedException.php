<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** 429: too many requests or connections; wait getRetryAfter() seconds (the client already retried). */
class RateLimitedException extends YbbException
{
}
