<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use YbbExport\Client;
use YbbExport\Exception\AuthenticationException;
use YbbExport\Exception\ExportFailedException;
use YbbExport\Exception\NotFoundException;
use YbbExport\Exception\PayloadTooLargeException;
use YbbExport\Exception\RateLimitedException;
use YbbExport\Exception\TransportException;
use YbbExport\Exception\ValidationException;
use YbbExport\Exception\YbbException;

/** Real error answers of the service (and of its Nginx) become typed exceptions. */
final class ErrorMappingTest extends StackTestCase
{
    private static function assertShape(YbbException $e, int $status, string $code): void
    {
        self::assertSame($status, $e->getStatus());
        self::assertSame($code, $e->getErrorCode());
        self::assertMatchesRegularExpression('/^[A-Za-z0-9._:-]{1,128}$/', (string) $e->getRequestId());
        self::assertNotSame('', $e->getMessage());
    }

    public function testAWrongKeyIs401(): void
    {
        $client = $this->client(['api_key' => 'ybb_this-key-does-not-exist']);
        try {
            $client->status('anything');
            $this->fail('expected AuthenticationException');
        } catch (AuthenticationException $e) {
            self::assertShape($e, 401, 'unauthorized');
            $this->assertStringStartsWith('php-', (string) $e->getRequestId(), 'the id the client sent');
            $this->assertSame($client->getLastRequestId(), $e->getRequestId());
        }
    }

    public function testAnUnknownExportIs404(): void
    {
        $this->expectException(NotFoundException::class);
        $this->client()->status('0123456789abcdef');
    }

    public function testAnInvalidRequestIs422WithTheFields(): void
    {
        try {
            $this->client()->submit('participants/standard', self::smallParticipants(), ['format' => 'pdf']);
            $this->fail('expected ValidationException');
        } catch (ValidationException $e) {
            self::assertShape($e, 422, 'validation_error');
            $this->assertArrayHasKey('format', $e->getErrors()['json'] ?? []);
        }
    }

    public function testInvalidRecordsOfASyncExportAre422WithTheRows(): void
    {
        $records = self::smallParticipants();
        $records[3]['id'] = 'not a number';
        try {
            $this->client()->export('participants/standard', $records, ['mode' => 'sync', 'path' => $this->tempDir()]);
            $this->fail('expected ValidationException');
        } catch (ValidationException $e) {
            self::assertShape($e, 422, 'invalid_records');
            $this->assertSame(3, $e->getErrors()[0]['row']);
            $this->assertSame('id', $e->getErrors()[0]['field']);
        }
    }

    public function testInvalidRecordsOfAnAsyncExportFailTheJob(): void
    {
        $records = self::smallParticipants();
        $records[1]['created_at'] = 'yesterday-ish';
        try {
            $this->client()->export('participants/standard', $records, ['mode' => 'async', 'path' => $this->tempDir()]);
            $this->fail('expected ExportFailedException');
        } catch (ExportFailedException $e) {
            $this->assertSame('invalid_records', $e->getErrorCode());
            $this->assertSame('failed', $e->getJob()['state']);
            $this->assertSame(1, $e->getErrors()[0]['row']);
        }
    }

    public function testABodyOverNginxsLimitIs413(): void
    {
        // A sparse file: Nginx refuses on Content-Length, before the body is read.
        $limit = (int) (getenv('YBB_MAX_BODY_BYTES') ?: 100 * 1024 * 1024);
        $file = $this->tempDir() . '/huge.ndjson';
        $handle = fopen($file, 'wb');
        ftruncate($handle, $limit + 1024 * 1024);
        fclose($handle);
        $started = microtime(true);
        try {
            $this->client(['max_retries' => 0])->uploadFile('any-id', $file);
            $this->fail('expected PayloadTooLargeException');
        } catch (PayloadTooLargeException $e) {
            self::assertShape($e, 413, 'payload_too_large');
        }
        $this->assertLessThan(30, microtime(true) - $started);
    }

    public function testABurstIsRateLimitedWithRetryAfter(): void
    {
        // Nginx allows 20 r/s per address with a burst of 40 (test stack); a tight loop exceeds it.
        $client = $this->client(['max_retries' => 0]);
        $limited = null;
        for ($i = 0; $i < 400 && $limited === null; $i++) {
            try {
                $client->status('burst-' . $i);
            } catch (NotFoundException) {
                continue;
            } catch (RateLimitedException $e) {
                $limited = $e;
            }
        }
        $this->assertNotNull($limited, 'no 429 after 400 requests');
        self::assertShape($limited, 429, 'rate_limited');
        $this->assertGreaterThanOrEqual(1, $limited->getRetryAfter());

        // The default client waits Retry-After and retries: this call goes through.
        try {
            $this->client(['max_retries' => 10])->status('after-the-burst');
            $this->fail('expected NotFoundException');
        } catch (NotFoundException $e) {
            $this->assertSame(404, $e->getStatus());
        }
        usleep(2_500_000);  // let the buckets (burst 40 at 20 r/s) drain for the tests that follow
    }

    public function testARefusedConnectionIsATransportException(): void
    {
        $client = new Client(['base_url' => 'https://127.0.0.1:1', 'api_key' => 'k', 'max_retries' => 1,
            'connect_timeout' => 2]);
        try {
            $client->status('x');
            $this->fail('expected TransportException');
        } catch (TransportException $e) {
            $this->assertSame('connection_failed', $e->getErrorCode());
            $this->assertSame(0, $e->getStatus());
        }
    }

    public function testAnUntrustedCertificateIsATlsError(): void
    {
        $client = new Client(['base_url' => (string) getenv('YBB_BASE_URL'), 'api_key' => 'k', 'ca_file' => null,
            'max_retries' => 0]);
        if (str_starts_with((string) getenv('YBB_BASE_URL'), 'http://')) {
            $this->markTestSkipped('the service is not behind TLS');
        }
        try {
            $client->status('x');
            $this->fail('expected TransportException');
        } catch (TransportException $e) {
            $this->assertSame('tls_error', $e->getErrorCode());
        }
    }
}
