<?php
declare(strict_types=1);

namespace YbbExport\Exception;

/**
 * An accepted export ended without a file: failed (getErrorCode() is the job's error code,
 * e.g. invalid_records, with getErrors() listing rows), cancelled or expired. getJob() is
 * the job as the service reported it.
 */
class ExportFailedException extends YbbException
{
    /** @var array<string, mixed> */
    private array $job = [];

    /** @param array<string, mixed> $job */
    public static function fromJob(array $job, ?string $requestId = null): self
    {
        $state = (string) ($job['state'] ?? 'unknown');
        $error = is_array($job['error'] ?? null) ? $job['error'] : [];
        $message = isset($error['message']) && is_string($error['message'])
            ? sprintf('Export %s %s: %s', $job['id'] ?? '?', $state, $error['message'])
            : sprintf('Export %s ended as %s, without a file', $job['id'] ?? '?', $state);
        $errors = is_array($error['errors'] ?? null) ? $error['errors'] : [];
        $exception = new self($message, 0, (string) ($error['code'] ?? $state), $errors, $requestId);
        $exception->job = $job;
        return $exception;
    }

    /** @return array<string, mixed> */
    public function getJob(): array
    {
        return $this->job;
    }
}
