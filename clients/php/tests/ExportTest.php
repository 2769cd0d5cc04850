<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use YbbExport\Exception\ConflictException;
use YbbExport\Exception\NotFoundException;

final class ExportTest extends StackTestCase
{
    public function testSmallExportIsSynchronousAndDownloadsTheXlsx(): void
    {
        $dir = $this->tempDir();
        $result = $this->client()->export('participants/standard', self::smallParticipants(), [
            'format' => 'xlsx', 'filename' => 'participants small', 'path' => $dir,
        ]);
        $this->assertSame('succeeded', $result->getJob()['state']);
        $this->assertSame('participants_small.xlsx', $result->getFilename());
        $this->assertSame($dir . '/participants_small.xlsx', $result->getPath());
        $this->assertSame(5, $result->getRows());
        $this->assertFileExists($result->getPath());
        $this->assertSame("PK\x03\x04", file_get_contents($result->getPath(), false, null, 0, 4), 'an XLSX is a zip');
        $this->assertSame(filesize($result->getPath()), $result->getBytes());
        $this->assertSame($result->getJob()['file_size'], $result->getBytes());
        $this->assertSame([], glob($dir . '/*.part-*'), 'no partial files left behind');
    }

    public function testAsyncExportIsPolledThenDownloaded(): void
    {
        $records = iterator_to_array(self::participants(300), false);
        $client = $this->client();
        $result = $client->export('participants/standard', $records, [
            'format' => 'csv', 'mode' => 'async', 'path' => $this->tempDir() . '/async.csv',
            'sort' => ['-id'], 'filters' => [['field' => 'id', 'op' => 'lte', 'value' => 200]],
        ]);
        $this->assertStringEndsWith('/async.csv', $result->getPath());
        $lines = self::csvLines($result->getPath());
        $this->assertCount(201, $lines);
        $this->assertStringStartsWith('200,', $lines[1]);
        $this->assertSame(200, $result->getRows());
        $this->assertSame($client->status($result->getId())['file_size'], $result->getBytes());
    }

    public function testSubmitStatusDownloadAndTheSignedLink(): void
    {
        $client = $this->client();
        $job = $client->submit('participants/summary', self::smallParticipants(), ['format' => 'json', 'mode' => 'sync']);
        $this->assertSame('succeeded', $job['state']);
        $status = $client->status($job['id']);
        $this->assertSame($job['id'], $status['id']);
        $this->assertSame(100, $status['progress']);
        $this->assertSame($job['id'], $client->wait($job['id'])['id']);

        $dir = $this->tempDir();
        $client->download($job['id'], $dir . '/with-key.json');
        $rows = json_decode((string) file_get_contents($dir . '/with-key.json'), true);
        $this->assertCount(5, $rows);

        $this->assertIsString($status['download_url'] ?? null, 'a succeeded job has a signed download_url');
        $client->downloadUrl($status['download_url'], $dir . '/signed.json');
        $this->assertFileEquals($dir . '/with-key.json', $dir . '/signed.json');

        $page = $client->exports(1, 5);
        $this->assertLessThanOrEqual(5, count($page['items']));
        $this->assertGreaterThanOrEqual(1, $page['pagination']['total'] ?? 0);
    }

    public function testDownloadErrorsLeaveNoFileBehind(): void
    {
        $dir = $this->tempDir();
        try {
            $this->client()->download('no-such-export', $dir . '/x.xlsx');
            $this->fail('expected NotFoundException');
        } catch (NotFoundException $e) {
            $this->assertSame('not_found', $e->getErrorCode());
            $this->assertNotEmpty($e->getRequestId());
        }
        $this->assertSame([], glob($dir . '/*'));
    }

    public function testCancelAnUploadJobThenCancellingAgainConflicts(): void
    {
        $client = $this->client();
        $job = $client->createUpload('participants/standard', ['format' => 'csv']);
        $this->assertSame('awaiting_records', $job['state']);
        $this->assertSame('cancelled', $client->cancel($job['id'])['state']);
        try {
            $client->cancel($job['id']);
            $this->fail('expected ConflictException');
        } catch (ConflictException $e) {
            $this->assertSame(409, $e->getStatus());
            $this->assertSame('already_finished', $e->getErrorCode());
        }
    }
}
