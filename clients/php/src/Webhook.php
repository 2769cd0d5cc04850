<?php
declare(strict_types=1);

namespace YbbExport;

use YbbExport\Exception\WebhookVerificationException;

/**
 * Webhook signatures. The service POSTs {"event": "export.succeeded"|"export.failed", "job": {...}}
 * to the export's callback_url with
 *
 *     X-YBB-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the key's webhook secret>
 *
 * Verify the RAW body (file_get_contents('php://input')), before decoding it.
 */
final class Webhook
{
    public const HEADER = 'X-YBB-Signature';
    public const DEFAULT_TOLERANCE = 300;

    /**
     * The decoded event when the signature is valid and fresh; WebhookVerificationException otherwise.
     *
     * @return array<string, mixed>
     */
    public static function verify(
        string $payload,
        ?string $signatureHeader,
        string $secret,
        int $tolerance = self::DEFAULT_TOLERANCE,
        ?int $now = null,
    ): array {
        if ($secret === '') {
            throw new WebhookVerificationException('No webhook secret configured', 0, 'webhook_no_secret');
        }
        [$timestamp, $signatures] = self::parseHeader($signatureHeader ?? '');
        $now ??= time();
        if ($tolerance > 0 && abs($now - $timestamp) > $tolerance) {
            throw new WebhookVerificationException(
                sprintf('Webhook timestamp is %d s away from now (tolerance %d s): a replay?', abs($now - $timestamp), $tolerance),
                0,
                'webhook_timestamp_out_of_tolerance',
            );
        }
        $expected = self::sign($payload, $secret, $timestamp);
        $valid = false;
        foreach ($signatures as $candidate) {
            // hash_equals: constant time. Every candidate is compared (secret rotation sends several).
            $valid = hash_equals($expected, strtolower($candidate)) || $valid;
        }
        if (!$valid) {
            throw new WebhookVerificationException('Webhook signature does not match', 0, 'webhook_signature_mismatch');
        }
        try {
            $event = json_decode($payload, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        } catch (\JsonException $e) {
            throw new WebhookVerificationException('Webhook body is not JSON', 0, 'webhook_invalid_body', [], null, null, $e);
        }
        if (!is_array($event)) {
            throw new WebhookVerificationException('Webhook body is not a JSON object', 0, 'webhook_invalid_body');
        }
        return $event;
    }

    /** The hex v1 signature of $payload at $timestamp (what the service computes). */
    public static function sign(string $payload, string $secret, int $timestamp): string
    {
        return hash_hmac('sha256', $timestamp . '.' . $payload, $secret);
    }

    /** A complete header value, for tests and for forwarding events. */
    public static function header(string $payload, string $secret, ?int $timestamp = null): string
    {
        $timestamp ??= time();
        return sprintf('t=%d,v1=%s', $timestamp, self::sign($payload, $secret, $timestamp));
    }

    /** @return array{0: int, 1: list<string>} */
    private static function parseHeader(string $header): array
    {
        $timestamp = null;
        $signatures = [];
        foreach (explode(',', $header) as $part) {
            [$name, $value] = array_pad(explode('=', trim($part), 2), 2, '');
            if ($name === 't' && ctype_digit($value) && strlen($value) <= 12) {
                $timestamp = (int) $value;
            } elseif ($name === 'v1' && $value !== '' && ctype_xdigit($value)) {
                $signatures[] = $value;
            }
        }
        if ($timestamp === null || $signatures === []) {
            throw new WebhookVerificationException(
                'Missing or malformed ' . self::HEADER . ' header (expected t=<seconds>,v1=<hex>)',
                0,
                'webhook_malformed_signature',
            );
        }
        return [$timestamp, $signatures];
    }
}
