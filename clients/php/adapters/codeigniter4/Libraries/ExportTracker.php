<?php
declare(strict_types=1);

namespace App\Libraries;

use App\Models\ExportModel;
use YbbExport\ClientInterface;
use YbbExport\Exception\NotFoundException;
use YbbExport\Exception\YbbException;

/**
 * The non-blocking export flow, shared by the controller, the queue jobs and the spark command.
 * Copy to app/Libraries/. Nothing here waits for an export to finish:
 *
 *  1. ParticipantExport::start() (a page request) stores a "pending" row and queues
 *     Jobs/StartExport; the browser gets 202 and a status URL at once.
 *  2. StartExport (a queue worker) calls send(): it uploads the rows in batches and commits;
 *     uploadInBatches() returns as soon as the export is queued at YBB.
 *  3. YBB POSTs the webhook when the export ends; ParticipantExport::webhook() verifies it and
 *     queues Jobs/FetchExport, which calls refresh() and downloads the file.
 *  4. Without webhooks (or if one is lost), `php spark ybb:poll` from cron calls refresh() for
 *     every unfinished export: one status() call each, never wait().
 *
 * The browser polls ParticipantExport::status() and downloads once the state is succeeded.
 * Type-hinting ClientInterface lets a test hand this class a YbbExport\Testing\FakeClient.
 */
class ExportTracker
{
    public function __construct(
        private readonly ClientInterface $ybb,
        private readonly ExportModel $exports,
        private readonly string $directory,
    ) {
    }

    /**
     * Send the rows of export $id to YBB (from a queue job). Safe to run twice: the idempotency
     * key ties the YBB job to this row, so a queue job retried after the commit gets the same
     * YBB job back instead of starting a second export. The request must then be the same, so
     * everything in it comes from the row (not from the clock); YBB answers 422
     * idempotency_key_reused otherwise.
     *
     * @param iterable<array<string, mixed>> $rows e.g. a generator over getUnbufferedRow()
     * @param array<string, mixed> $options request fields (columns, filters, sort, ...)
     */
    public function send(int $id, iterable $rows, array $options = []): void
    {
        $export = $this->exports->find($id);
        if ($export === null || $export['ybb_id'] !== null) {
            return;  // gone, or already sent
        }
        $job = $this->ybb->uploadInBatches($rows, 5000, (string) $export['template'], $options + [
            'format' => $export['format'],
            'filename' => 'participants-' . substr((string) $export['created_at'], 0, 10),
            'callback_url' => url_to('ParticipantExport::webhook'),  // app.baseURL: must be HTTPS, reachable by YBB
            'idempotency_key' => 'ci4-export-' . $id,
        ]);
        $this->exports->update($id, ['ybb_id' => $job['id'], 'state' => $job['state'], 'filename' => $job['filename']]);
    }

    /**
     * Look at the YBB job of an export once (one status() call) and record what it says;
     * download the file when it has succeeded. Returns the row as it is now.
     *
     * @param array<string, mixed> $export a row of ybb_exports
     * @return array<string, mixed>
     */
    public function refresh(array $export): array
    {
        $done = $export['path'] !== null || in_array($export['state'], ['failed', 'cancelled', 'expired'], true);
        if ($export['ybb_id'] === null || $done) {
            return $export;  // not sent yet, or nothing more to learn
        }
        try {
            $job = $this->ybb->status((string) $export['ybb_id']);
        } catch (NotFoundException) {
            $job = ['state' => 'expired', 'error' => ['message' => 'YBB no longer knows this export.']];
        }
        $changes = ['state' => $job['state']];
        if ($job['state'] === 'succeeded') {
            if (!is_dir($this->directory)) {
                mkdir($this->directory, 0770, true);
            }
            $path = $this->directory . '/' . $export['id'] . '-' . basename((string) $job['filename']);
            $this->ybb->download((string) $export['ybb_id'], $path);  // streamed to disk
            $changes['path'] = $path;
        } elseif (in_array($job['state'], ExportModel::ENDED, true)) {
            $changes['error'] = (string) ($job['error']['message'] ?? $job['state']);
        }
        $this->exports->update($export['id'], $changes);
        return $changes + $export;
    }

    /**
     * refresh() every export whose end has not been seen yet (for the spark command).
     *
     * @return int how many were looked at
     */
    public function refreshUnfinished(int $limit = 100): int
    {
        $rows = $this->exports->unfinished($limit);
        foreach ($rows as $export) {
            try {
                $this->refresh($export);
            } catch (YbbException $e) {
                log_message('warning', 'YBB export {id}: {message} (request {request})', [
                    'id' => $export['id'], 'message' => $e->getMessage(), 'request' => $e->getRequestId(),
                ]);
            }
        }
        return count($rows);
    }
}
