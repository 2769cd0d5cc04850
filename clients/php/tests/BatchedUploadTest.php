<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use YbbExport\Exception\ValidationException;

final class BatchedUploadTest extends StackTestCase
{
    public function testAGeneratorIsUploadedInNdjsonBatchesAndExported(): void
    {
        $client = $this->client();
        $result = $client->export('participants/standard', self::participants(2500), [
            'format' => 'csv', 'batch_size' => 1000, 'path' => $this->tempDir(), 'filename' => 'batched',
        ]);
        $this->assertSame('batched.csv', $result->getFilename());
        $this->assertSame(2500, $result->getRows());
        $this->assertSame(2500, $result->getJob()['rows_total']);
        $lines = self::csvLines($result->getPath());
        $this->assertCount(2501, $lines);
        $this->assertStringStartsWith('1,Participant 1 Ünal,', $lines[1]);
        $this->assertStringStartsWith('2500,', $lines[2500]);
    }

    public function testOnlyOneBatchIsHeldInMemory(): void
    {
        if (!function_exists('memory_reset_peak_usage')) {
            $this->markTestSkipped('memory_reset_peak_usage() needs PHP 8.2');
        }
        $client = $this->client();
        gc_collect_cycles();
        $before = memory_get_usage();
        memory_reset_peak_usage();
        $job = $client->uploadInBatches(self::participants(10000), 500, 'participants/standard', ['format' => 'csv']);
        $peak = memory_get_peak_usage() - $before;
        $this->assertSame(10000, $job['rows_total']);
        // 10,000 rows as a PHP array take about 15 MB; one NDJSON batch of 500 about 150 KB.
        $this->assertLessThan(2 * 1024 * 1024, $peak, "peak memory grew by $peak bytes");
        $this->assertSame(10000, $client->wait($job['id'])['rows']);
    }

    public function testUploadInBatchesCountsBatchesAndHonoursExpectedRows(): void
    {
        $client = $this->client();
        $job = $client->uploadInBatches(self::participants(250), 100, 'participants/standard',
            ['format' => 'xlsx', 'expected_rows' => 250]);
        $this->assertContains($job['state'], ['queued', 'running', 'succeeded']);
        $this->assertSame(250, $job['rows_total']);
        $done = $client->wait($job['id']);
        $this->assertSame(250, $done['rows']);

        try {
            $client->uploadInBatches(self::participants(5), 2, 'participants/standard', ['expected_rows' => 6]);
            $this->fail('expected ValidationException');
        } catch (ValidationException $e) {
            $this->assertSame(422, $e->getStatus());
            $this->assertSame('row_count_mismatch', $e->getErrorCode());
        }
    }

    public function testUploadBatchAndUploadFileThenCommit(): void
    {
        $client = $this->client();
        $job = $client->createUpload('participants/standard', ['format' => 'csv']);
        $batch = $client->uploadBatch($job['id'], iterator_to_array(self::participants(3), false));
        $this->assertSame(3, $batch['rows_total']);
        $file = $this->tempDir() . '/more.ndjson';
        $lines = '';
        foreach (self::participants(7) as $row) {
            $lines .= json_encode(['id' => $row['id'] + 100] + $row) . "\n";
        }
        file_put_contents($file, $lines);
        $batch = $client->uploadFile($job['id'], $file);
        $this->assertSame(10, $batch['rows_total']);
        $this->assertSame(2, $batch['batches']);
        $committed = $client->commit($job['id']);
        $this->assertSame(10, $client->wait($committed['id'])['rows']);
    }
}
