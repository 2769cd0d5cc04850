<?php
declare(strict_types=1);

namespace YbbExport\Http;

/** One HTTP response: status, headers (lower-case names) and the body (empty when streamed to a file). */
final class Response
{
    /** @param array<string, string> $headers lower-case name => value (the last one wins) */
    public function __construct(
        public readonly int $status,
        public readonly array $headers,
        public readonly string $body,
    ) {
    }

    public function header(string $name): ?string
    {
        return $this->headers[strtolower($name)] ?? null;
    }

    /** The JSON body decoded as an array, or null when it is not JSON. */
    public function json(): ?array
    {
        if ($this->body === '') {
            return null;
        }
        try {
            $data = json_decode($this->body, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        } catch (\JsonException) {
            return null;
        }
        return is_array($data) ? $data : null;
    }

    /** Retry-After in seconds (delta-seconds or an HTTP date), or null. */
    public function retryAfter(): ?int
    {
        $value = $this->header('Retry-After');
        if ($value === null || trim($value) === '') {
            return null;
        }
        $value = trim($value);
        if (ctype_digit($value)) {
            return (int) $value;
        }
        $time = strtotime($value);
        return $time === false ? null : max(0, $time - time());
    }
}
