<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use YbbExport\Exception\ValidationException;

/**
 * The Idempotency-Key reaches the service: the same key answers the same job, and the same key
 * with another request is refused (422 idempotency_key_reused) instead of starting a second export.
 */
final class IdempotencyTest extends StackTestCase
{
    private static function key(): string
    {
        return 'php-test-' . bin2hex(random_bytes(12));
    }

    public function testTheSameKeyTwiceGivesTheSameUploadJob(): void
    {
        // An upload job is never answered from the result cache: only the key can make it the same job.
        $client = $this->client();
        $key = self::key();
        $first = $client->createUpload('participants/standard', ['format' => 'csv', 'idempotency_key' => $key]);
        $second = $client->createUpload('participants/standard', ['format' => 'csv', 'idempotency_key' => $key]);
        $other = $client->createUpload('participants/standard', ['format' => 'csv', 'idempotency_key' => self::key()]);
        try {
            $this->assertSame('awaiting_records', $first['state']);
            $this->assertSame($first['id'], $second['id'], 'the same Idempotency-Key must give the same job');
            $this->assertNotSame($first['id'], $other['id'], 'another key is another job');
        } finally {
            $client->cancel($first['id']);
            $client->cancel($other['id']);
        }
    }

    public function testTheSameKeyTwiceGivesTheSameExport(): void
    {
        $client = $this->client();
        $key = self::key();
        $records = self::smallParticipants();
        $records[0]['full_name'] .= ' ' . $key;  // not an earlier export's records: no cached answer
        $first = $client->submit('participants/standard', $records, ['format' => 'csv', 'idempotency_key' => $key]);
        $second = $client->submit('participants/standard', $records, ['format' => 'csv', 'idempotency_key' => $key]);
        $this->assertSame($first['id'], $second['id']);
        $this->assertSame('succeeded', $second['state']);
    }

    public function testTheSameKeyWithAnotherBodyIs422(): void
    {
        $client = $this->client();
        $key = self::key();
        $records = self::smallParticipants();
        $client->submit('participants/standard', $records, ['format' => 'csv', 'idempotency_key' => $key]);
        $records[0]['full_name'] = 'Someone Else';
        try {
            $client->submit('participants/standard', $records, ['format' => 'csv', 'idempotency_key' => $key]);
            $this->fail('expected ValidationException (idempotency_key_reused)');
        } catch (ValidationException $e) {
            $this->assertSame(422, $e->getStatus());
            $this->assertSame('idempotency_key_reused', $e->getErrorCode());
        }
    }

    public function testARetriedBatchedUploadReturnsTheCommittedJobAndLeavesItAlone(): void
    {
        // A queue job that died after the commit and runs again must not start (or cancel) an export.
        $client = $this->client();
        $key = self::key();
        $options = ['format' => 'csv', 'expected_rows' => 40, 'idempotency_key' => $key];
        $first = $client->uploadInBatches(self::participants(40), 10, 'participants/standard', $options);
        $again = $client->uploadInBatches(self::participants(40), 10, 'participants/standard', $options);
        $this->assertSame($first['id'], $again['id']);
        $this->assertNotSame('awaiting_records', $again['state']);
        $done = $client->wait($first['id']);
        $this->assertSame(40, $done['rows'], 'the batches were not sent twice');
        $this->assertSame(40, $done['rows_total']);
    }

    public function testExportWithAKeyIsIdempotentToo(): void
    {
        $client = $this->client();
        $key = self::key();
        $records = self::smallParticipants();
        $records[1]['full_name'] .= ' ' . $key;
        $dir = $this->tempDir();
        $first = $client->export('participants/standard', $records, ['format' => 'csv', 'idempotency_key' => $key, 'path' => $dir]);
        $second = $client->export('participants/standard', $records, ['format' => 'csv', 'idempotency_key' => $key, 'path' => $dir]);
        $this->assertSame($first->getId(), $second->getId());
    }
}
