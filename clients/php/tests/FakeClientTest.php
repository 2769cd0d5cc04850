<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\TestCase;
use YbbExport\ClientInterface;
use YbbExport\Exception\ConflictException;
use YbbExport\Exception\ExportFailedException;
use YbbExport\Exception\NotFoundException;
use YbbExport\Exception\RateLimitedException;
use YbbExport\Exception\ValidationException;
use YbbExport\Exception\WebhookVerificationException;
use YbbExport\Http\Response;
use YbbExport\Testing\FakeClient;

/** The fake that applications use in their own tests: no service needed. */
final class FakeClientTest extends TestCase
{
    /** @var list<string> */
    private array $files = [];

    protected function tearDown(): void
    {
        foreach ($this->files as $file) {
            @unlink($file);
        }
    }

    private function tempFile(string $suffix = ''): string
    {
        $path = sys_get_temp_dir() . '/ybb-fake-test-' . bin2hex(random_bytes(6)) . $suffix;
        $this->files[] = $path;
        return $path;
    }

    /** @return list<array<string, mixed>> */
    private static function rows(int $count): array
    {
        $rows = [];
        for ($i = 1; $i <= $count; $i++) {
            $rows[] = ['id' => $i, 'full_name' => "Participant $i", 'email' => "p$i@example.org"];
        }
        return $rows;
    }

    /** @return \Generator<int, array<string, mixed>> */
    private static function generate(int $count): \Generator
    {
        yield from self::rows($count);
    }

    public function testItIsAClientInterface(): void
    {
        $this->assertInstanceOf(ClientInterface::class, new FakeClient());
    }

    public function testSubmitRecordsTheExportAndAssertSubmittedFilters(): void
    {
        $ybb = new FakeClient();
        $ybb->assertNothingSubmitted();
        $job = $ybb->submit('participants/standard', self::rows(3), ['format' => 'csv', 'filename' => 'june list']);
        $this->assertSame('succeeded', $job['state']);
        $this->assertSame('june_list.csv', $job['filename']);
        $this->assertSame(3, $job['rows']);
        $this->assertSame($job, $ybb->status($job['id']));

        $ybb->assertSubmitted();
        $ybb->assertSubmitted(fn (string $template, array $records, array $options) => $template === 'participants/standard'
            && count($records) === 3 && $records[2]['email'] === 'p3@example.org' && $options['format'] === 'csv');
        $ybb->assertSubmitted(fn (string $template) => $template === 'participants/standard', 1);
        $ybb->assertNotSubmitted(fn (string $template) => $template === 'participants/summary');
        $ybb->assertCalled('submit', fn (string $template, array $records) => count($records) === 3, 1);
        $ybb->assertNotCalled('export');
        $this->assertSame('submit', $ybb->submissions()[0]['method']);
        $this->assertMatchesRegularExpression('/^fake-[0-9a-f]{16}$/', (string) $ybb->getLastRequestId());
    }

    public function testFailedAssertionsFailTheTest(): void
    {
        $ybb = new FakeClient();
        $ybb->submit('participants/standard', self::rows(1));
        $failing = [
            fn () => $ybb->assertSubmitted(fn (string $template) => $template === 'other'),
            fn () => $ybb->assertSubmitted(null, 2),
            fn () => $ybb->assertNothingSubmitted(),
            fn () => $ybb->assertDownloaded(),
            fn () => $ybb->assertCalled('cancel'),
            fn () => $ybb->assertNotCalled('submit'),
        ];
        foreach ($failing as $i => $assertion) {
            try {
                $assertion();
                $this->fail("assertion $i should have failed");
            } catch (AssertionFailedError $e) {
                $this->assertNotSame('', $e->getMessage());
            }
        }
    }

    public function testExportOfAnArrayWritesTheCannedFile(): void
    {
        $ybb = new FakeClient();
        $path = $this->tempFile('.csv');
        $result = $ybb->export('participants/standard', self::rows(2), ['format' => 'csv', 'path' => $path]);
        $this->assertSame($path, $result->getPath());
        $this->assertSame(2, $result->getRows());
        $this->assertSame(
            "id,full_name,email\n1,\"Participant 1\",p1@example.org\n2,\"Participant 2\",p2@example.org\n",
            file_get_contents($path)
        );
        $this->assertSame(filesize($path), $result->getBytes());
        $this->assertSame($result->getJob()['file_size'], $result->getBytes());
        $ybb->assertDownloaded(fn (string $file, array $job) => $file === $path && $job['id'] === $result->getId());
        $ybb->assertCalled('export');
        $ybb->assertNotCalled('submit');
    }

    public function testExportOfAGeneratorIsABatchedUpload(): void
    {
        $ybb = new FakeClient(['file_contents' => fn (array $job, array $records) => 'rows=' . count($records)]);
        $path = $this->tempFile();
        $result = $ybb->export('participants/standard', self::generate(25), ['format' => 'xlsx', 'batch_size' => 10, 'path' => $path]);
        $this->assertSame('rows=25', file_get_contents($path));
        $this->assertSame(25, $result->getRows());
        $submission = $ybb->submissions()[0];
        $this->assertSame('export', $submission['method']);
        $this->assertCount(25, $submission['records']);
        $this->assertArrayNotHasKey('batch_size', $submission['options']);
        $this->assertArrayNotHasKey('path', $submission['options']);
    }

    public function testQueuedExportsWaitForFinish(): void
    {
        $ybb = new FakeClient(['state' => 'queued']);
        $job = $ybb->submit('participants/standard', self::rows(4), ['format' => 'json']);
        $this->assertSame('queued', $job['state']);
        $this->assertNull($job['download_url']);
        try {
            $ybb->download($job['id'], $this->tempFile());
            $this->fail('expected ConflictException');
        } catch (ConflictException $e) {
            $this->assertSame('not_ready', $e->getErrorCode());
            $this->assertSame(409, $e->getStatus());
        }
        $this->assertSame('queued', $ybb->status($job['id'])['state'], 'status() never waits');

        $done = $ybb->finish($job['id']);
        $this->assertSame('succeeded', $done['state']);
        $path = $ybb->downloadUrl((string) $done['download_url'], $this->tempFile('.json'));
        $this->assertCount(4, json_decode((string) file_get_contents($path), true));

        $failed = $ybb->submit('participants/standard', self::rows(1));
        $ybb->finish($failed['id'], 'failed', ['code' => 'invalid_records', 'message' => 'Row 1: bad email']);
        try {
            $ybb->wait($failed['id']);
            $this->fail('expected ExportFailedException');
        } catch (ExportFailedException $e) {
            $this->assertSame('invalid_records', $e->getErrorCode());
            $this->assertSame('failed', $e->getJob()['state']);
        }
        $this->assertSame(
            'succeeded',
            $ybb->wait($ybb->submit('participants/standard', self::rows(1))['id'])['state'],
            'wait() lets a queued export succeed'
        );
    }

    public function testTheSameIdempotencyKeyGivesTheSameJobAsTheServiceDoes(): void
    {
        $ybb = new FakeClient();
        $first = $ybb->submit('participants/standard', self::rows(2), ['idempotency_key' => 'k-1']);
        $second = $ybb->submit('participants/standard', self::rows(2), ['idempotency_key' => 'k-1']);
        $this->assertSame($first['id'], $second['id']);
        $ybb->assertSubmitted(null, 1);
        try {
            $ybb->submit('participants/standard', self::rows(3), ['idempotency_key' => 'k-1']);
            $this->fail('expected ValidationException');
        } catch (ValidationException $e) {
            $this->assertSame(422, $e->getStatus());
            $this->assertSame('idempotency_key_reused', $e->getErrorCode());
        }

        $upload = $ybb->uploadInBatches(self::generate(5), 2, 'participants/standard', ['idempotency_key' => 'k-2']);
        $again = $ybb->uploadInBatches(self::generate(5), 2, 'participants/standard', ['idempotency_key' => 'k-2']);
        $this->assertSame($upload['id'], $again['id']);
        $this->assertCount(5, $ybb->submissions(fn ($t, $r, $o, array $job) => $job['id'] === $upload['id'])[0]['records']);

        $this->expectException(\InvalidArgumentException::class);
        $ybb->submit('participants/standard', self::rows(1), ['idempotency_key' => "k\r\nX-Other: 1"]);
    }

    public function testStepByStepUploadsAndExpectedRows(): void
    {
        $ybb = new FakeClient();
        $job = $ybb->createUpload('participants/standard', ['format' => 'csv', 'expected_rows' => 5]);
        $this->assertSame('awaiting_records', $job['state']);
        $this->assertSame(2, $ybb->uploadBatch($job['id'], self::rows(2))['rows_total']);
        $file = $this->tempFile('.ndjson');
        file_put_contents($file, "{\"id\": 3}\n{\"id\": 4}\n\n");
        $batch = $ybb->uploadFile($job['id'], $file);
        $this->assertSame(['id' => $job['id'], 'state' => 'awaiting_records', 'rows_total' => 4, 'batches' => 2], $batch);
        try {
            $ybb->commit($job['id']);
            $this->fail('expected ValidationException');
        } catch (ValidationException $e) {
            $this->assertSame('row_count_mismatch', $e->getErrorCode());
            $this->assertSame(['expected_rows' => 5, 'received_rows' => 4], $e->getErrors());
        }
        $ybb->uploadBatch($job['id'], [['id' => 5]]);
        $this->assertSame('succeeded', $ybb->commit($job['id'])['state']);
        $this->expectException(ConflictException::class);
        $ybb->uploadBatch($job['id'], [['id' => 6]]);
    }

    public function testAFailedBatchedUploadIsCancelled(): void
    {
        $ybb = new FakeClient();
        try {
            $ybb->uploadInBatches(self::generate(3), 2, 'participants/standard', ['expected_rows' => 4]);
            $this->fail('expected ValidationException');
        } catch (ValidationException $e) {
            $this->assertSame('row_count_mismatch', $e->getErrorCode());
        }
        $ybb->assertCancelled($ybb->jobs()[0]['id']);
    }

    public function testCancelAndNotFound(): void
    {
        $ybb = new FakeClient(['state' => 'queued']);
        $job = $ybb->submit('participants/standard', self::rows(1));
        $this->assertSame('cancelled', $ybb->cancel($job['id'])['state']);
        $ybb->assertCancelled($job['id']);
        try {
            $ybb->cancel($job['id']);
            $this->fail('expected ConflictException');
        } catch (ConflictException $e) {
            $this->assertSame('already_finished', $e->getErrorCode());
        }
        try {
            $ybb->status('no-such-export');
            $this->fail('expected NotFoundException');
        } catch (NotFoundException $e) {
            $this->assertSame(404, $e->getStatus());
            $this->assertSame($ybb->getLastRequestId(), $e->getRequestId());
        }
    }

    public function testWillFailThrowsOnceForTheMethod(): void
    {
        $ybb = new FakeClient();
        $ybb->willFail(new RateLimitedException('Slow down', 429, 'rate_limited', [], null, 5), 'submit');
        $ybb->status($ybb->createUpload('participants/standard')['id']);  // other methods are unaffected
        try {
            $ybb->submit('participants/standard', self::rows(1));
            $this->fail('expected RateLimitedException');
        } catch (RateLimitedException $e) {
            $this->assertSame(5, $e->getRetryAfter());
        }
        $this->assertSame('succeeded', $ybb->submit('participants/standard', self::rows(1))['state']);
        $ybb->assertSubmitted(fn (string $template, array $records, array $options, array $job) => $job['state'] === 'succeeded', 1);
        $this->assertCount(2, $ybb->calls('submit'), 'the failed call is recorded too');
    }

    public function testWebhooksAreSignedAndVerified(): void
    {
        $ybb = new FakeClient();
        $job = $ybb->submit('participants/standard', self::rows(1), ['callback_url' => 'https://app.example/hook']);
        $webhook = $ybb->webhook($job['id'], 'whsec-test');
        $event = $ybb->verifyWebhook($webhook['payload'], $webhook['signature'], 'whsec-test');
        $this->assertSame('export.succeeded', $event['event']);
        $this->assertSame($job['id'], $event['job']['id']);
        $this->expectException(WebhookVerificationException::class);
        $ybb->verifyWebhook($webhook['payload'], $webhook['signature'], 'another-secret');
    }

    public function testListingTemplatesAndRawRequests(): void
    {
        $ybb = new FakeClient(['templates' => [['name' => 'participants/standard', 'columns' => []]]]);
        foreach (range(1, 3) as $i) {
            $ybb->submit('participants/standard', self::rows($i));
        }
        $page = $ybb->exports(1, 2);
        $this->assertCount(2, $page['items']);
        $this->assertSame(3, $page['items'][0]['rows'], 'newest first');
        $this->assertSame(
            ['total' => 3, 'total_pages' => 2, 'first_page' => 1, 'last_page' => 2, 'page' => 1, 'next_page' => 2],
            $page['pagination']
        );
        $this->assertSame('participants/standard', $ybb->templates()[0]['name']);

        $ybb->willRespond(new Response(200, [], '{"status": "ok"}'));
        $this->assertSame(['status' => 'ok'], $ybb->request('GET', '/health')->json());
        $this->expectException(\LogicException::class);
        $ybb->request('GET', '/health');
    }
}
