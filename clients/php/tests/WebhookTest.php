<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use PHPUnit\Framework\TestCase;
use YbbExport\Client;
use YbbExport\Exception\WebhookVerificationException;
use YbbExport\Webhook;

/** Webhook signatures: no service needed. */
final class WebhookTest extends TestCase
{
    private const SECRET = '4f1c0b4e2a7d9e8f6a5b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f';

    private static function payload(): string
    {
        return json_encode(['event' => 'export.succeeded', 'job' => ['id' => 'abc123', 'state' => 'succeeded', 'rows' => 5]]);
    }

    private static function client(): Client
    {
        return new Client(['base_url' => 'https://127.0.0.1:1', 'api_key' => 'unused']);
    }

    public function testAValidSignatureReturnsTheEvent(): void
    {
        $header = Webhook::header(self::payload(), self::SECRET);
        $event = self::client()->verifyWebhook(self::payload(), $header, self::SECRET);
        $this->assertSame('export.succeeded', $event['event']);
        $this->assertSame('abc123', $event['job']['id']);
    }

    public function testTheSignatureIsTheHmacOfTimestampDotBody(): void
    {
        $t = 1700000000;
        $expected = hash_hmac('sha256', $t . '.' . self::payload(), self::SECRET);
        $this->assertSame("t=$t,v1=$expected", Webhook::header(self::payload(), self::SECRET, $t));
        $event = Webhook::verify(self::payload(), " t=$t , v1=$expected ", self::SECRET, 300, $t + 299);
        $this->assertSame('abc123', $event['job']['id']);
    }

    public function testOneMatchingSignatureAmongSeveralIsEnough(): void
    {
        $t = time();
        $header = sprintf('t=%d,v1=%s,v1=%s', $t, str_repeat('0', 64), Webhook::sign(self::payload(), self::SECRET, $t));
        $this->assertSame('export.succeeded', Webhook::verify(self::payload(), $header, self::SECRET)['event']);
    }

    /** @return array<string, array{0: callable(string, string): array{0: string, 1: string}, 1: string}> */
    public static function badCases(): array
    {
        return [
            'tampered body' => [static fn (string $p, string $h) => [str_replace('"rows":5', '"rows":6', $p), $h], 'webhook_signature_mismatch'],
            'wrong secret' => [static fn (string $p, string $h) => [$p, Webhook::header($p, 'another-secret')], 'webhook_signature_mismatch'],
            'tampered signature' => [static fn (string $p, string $h) => [$p, substr($h, 0, -1) . (str_ends_with($h, '0') ? '1' : '0')], 'webhook_signature_mismatch'],
            'expired' => [static fn (string $p, string $h) => [$p, Webhook::header($p, self::SECRET, time() - 301)], 'webhook_timestamp_out_of_tolerance'],
            'from the future' => [static fn (string $p, string $h) => [$p, Webhook::header($p, self::SECRET, time() + 301)], 'webhook_timestamp_out_of_tolerance'],
            'missing header' => [static fn (string $p, string $h) => [$p, ''], 'webhook_malformed_signature'],
            'no timestamp' => [static fn (string $p, string $h) => [$p, preg_replace('/^t=\d+,/', '', $h)], 'webhook_malformed_signature'],
            'no v1' => [static fn (string $p, string $h) => [$p, preg_replace('/,v1=.*$/', '', $h)], 'webhook_malformed_signature'],
            'garbage' => [static fn (string $p, string $h) => [$p, 'sha256=deadbeef'], 'webhook_malformed_signature'],
        ];
    }

    /** @dataProvider badCases */
    public function testBadSignaturesAreRejected(callable $mutate, string $code): void
    {
        [$payload, $header] = $mutate(self::payload(), Webhook::header(self::payload(), self::SECRET));
        try {
            self::client()->verifyWebhook($payload, $header, self::SECRET);
            $this->fail('expected WebhookVerificationException');
        } catch (WebhookVerificationException $e) {
            $this->assertSame($code, $e->getErrorCode());
        }
    }

    public function testTheToleranceIsConfigurable(): void
    {
        $header = Webhook::header(self::payload(), self::SECRET, time() - 1000);
        $this->assertSame('abc123', self::client()->verifyWebhook(self::payload(), $header, self::SECRET, 3600)['job']['id']);
        $this->expectException(WebhookVerificationException::class);
        self::client()->verifyWebhook(self::payload(), $header, self::SECRET, 600);
    }

    public function testAnEmptySecretNeverVerifies(): void
    {
        $this->expectException(WebhookVerificationException::class);
        Webhook::verify(self::payload(), Webhook::header(self::payload(), ''), '');
    }
}
