<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/** A webhook whose X-YBB-Signature is missing, malformed, wrong or too old: answer it with 400. */
class WebhookVerificationException extends YbbException
{
}
