<?php
declare(strict_types=1);

namespace YbbExport\Exception;

use YbbExport\Http\Response;

/**
 * Base of every exception the client throws. API errors carry the service's error shape:
 * getErrorCode() (stable, see docs/errors.md), getErrors() (per-field or per-row details),
 * getRequestId() (quote it when reporting a problem) and getStatus() (HTTP status, 0 when
 * there was no response).
 */
class YbbException extends \RuntimeException
{
    /** @param array<mixed> $errors */
    public function __construct(
        string $message,
        private readonly int $status = 0,
        private readonly ?string $errorCode = null,
        private readonly array $errors = [],
        private readonly ?string $requestId = null,
        private readonly ?int $retryAfter = null,
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, $status, $previous);
    }

    public function getStatus(): int
    {
        return $this->status;
    }

    public function getErrorCode(): ?string
    {
        return $this->errorCode;
    }

    /** @return array<mixed> */
    public function getErrors(): array
    {
        return $this->errors;
    }

    public function getRequestId(): ?string
    {
        return $this->requestId;
    }

    /** Seconds to wait before retrying (429, 503), when the service said so. */
    public function getRetryAfter(): ?int
    {
        return $this->retryAfter;
    }

    /** The typed exception for an error response in the service's JSON error shape. */
    public static function fromResponse(Response $response, ?string $sentRequestId = null): self
    {
        $data = $response->json() ?? [];
        $status = $response->status;
        $code = isset($data['code']) && is_string($data['code']) ? $data['code'] : 'http_' . $status;
        $message = isset($data['message']) && is_string($data['message'])
            ? $data['message']
            : sprintf('HTTP %d from the YBB export service', $status);
        $errors = isset($data['errors']) && is_array($data['errors']) ? $data['errors'] : [];
        $requestId = $data['request_id'] ?? $response->header('X-Request-Id') ?? $sentRequestId;
        $requestId = is_string($requestId) ? $requestId : null;
        $class = match (true) {
            $status === 401, $status === 403 => AuthenticationException::class,
            $status === 404 => NotFoundException::class,
            $status === 409 => ConflictException::class,
            $status === 410 => ExpiredException::class,
            $status === 413 => PayloadTooLargeException::class,
            $status === 429 => RateLimitedException::class,
            $status === 400, $status === 415, $status === 422 => ValidationException::class,
            $status >= 500 => ServerException::class,
            default => ClientException::class,
        };
        return new $class($message, $status, $code, $errors, $requestId, $response->retryAfter());
    }
}
