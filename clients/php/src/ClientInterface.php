<?php
declare(strict_types=1);

namespace YbbExport;

use YbbExport\Http\Response;

/**
 * What an application uses of the YBB export client: implemented by Client (the real one) and
 * by Testing\FakeClient (for the application's own tests). Type-hint this interface in your
 * controllers, jobs and services, so that a test can hand them the fake:
 *
 *     final class ParticipantExporter
 *     {
 *         public function __construct(private readonly ClientInterface $ybb) {}
 *     }
 *
 *     $exporter = new ParticipantExporter(new YbbExport\Testing\FakeClient());
 *
 * Jobs are the service's job objects as arrays: id, state (awaiting_records, queued, running,
 * succeeded, failed, cancelled, expired), progress, template, format, filename, rows_total,
 * rows, file_size, warnings, error, created_at, finished_at, expires_at, links, download_url.
 * Every method throws a YbbExport\Exception\YbbException subclass on an error answer.
 */
interface ClientInterface
{
    /** The X-Request-Id of the last request (quote it when reporting a problem). */
    public function getLastRequestId(): ?string;

    /**
     * Submit (an array) or upload in batches (any other iterable), wait for the export and
     * download its file. Blocks up to export_timeout seconds: call it from a queue worker or
     * the command line, not while a browser waits (see submit() and uploadInBatches()).
     *
     * $options: the request fields (format, filename, columns, filters, sort, select, rename,
     * order, dedupe, options, mode, callback_url, expected_rows), plus path (a file name or an
     * existing directory), batch_size and idempotency_key.
     *
     * @param iterable<array<string, mixed>|object> $records
     * @param array<string, mixed> $options
     */
    public function export(string $template, iterable $records, array $options = []): ExportResult;

    /**
     * Create an export from an array of records (POST /api/v1/exports); returns the job at once,
     * succeeded when the service finished it while answering, otherwise queued or running. The
     * same idempotency_key answers the same job; with another request, ValidationException
     * (idempotency_key_reused).
     *
     * @param array<int, array<string, mixed>|object> $records
     * @param array<string, mixed> $options request fields, see export()
     * @return array<string, mixed> the job
     */
    public function submit(string $template, array $records, array $options = []): array;

    /**
     * Create an upload job, send the records as NDJSON batches of at most $batchSize rows (one
     * batch in memory at a time), commit it; returns the committed job (queued) without waiting.
     * With an idempotency_key whose upload was already committed, returns that job at once.
     *
     * @param iterable<array<string, mixed>|object> $records
     * @param array<string, mixed> $options request fields, expected_rows, idempotency_key
     * @return array<string, mixed> the job
     */
    public function uploadInBatches(
        iterable $records,
        int $batchSize = 5000,
        string $template = '',
        array $options = [],
    ): array;

    /**
     * An empty export that waits for its records (state awaiting_records).
     *
     * @param array<string, mixed> $options request fields, expected_rows, idempotency_key
     * @return array<string, mixed> the job
     */
    public function createUpload(string $template, array $options = []): array;

    /**
     * Send one batch of records to an upload job.
     *
     * @param iterable<array<string, mixed>|object> $records
     * @return array<string, mixed> {id, state, rows_total, batches}
     */
    public function uploadBatch(string $id, iterable $records): array;

    /**
     * Send a file of records (NDJSON, or a JSON array) to an upload job, streamed from disk.
     *
     * @return array<string, mixed> {id, state, rows_total, batches}
     */
    public function uploadFile(string $id, string $path, string $contentType = 'application/x-ndjson'): array;

    /**
     * Start an upload job once every batch has been sent.
     *
     * @return array<string, mixed> the job, queued
     */
    public function commit(string $id): array;

    /**
     * The job, as it is now: one GET, never waits.
     *
     * @return array<string, mixed>
     */
    public function status(string $id): array;

    /**
     * Poll until the export ends: the succeeded job, ExportFailedException when it failed, was
     * cancelled or expired, TimeoutException after $timeout seconds (default export_timeout).
     *
     * @return array<string, mixed>
     */
    public function wait(string $id, ?float $timeout = null): array;

    /** Save the file of a succeeded export to $path (complete or not at all); returns $path. */
    public function download(string $id, string $path): string;

    /** Save the file behind a job's signed download_url (no API key sent); returns $path. */
    public function downloadUrl(string $url, string $path): string;

    /**
     * Cancel an export that has not ended (ConflictException already_finished when it has).
     *
     * @return array<string, mixed> the job, cancelled
     */
    public function cancel(string $id): array;

    /**
     * One page of your exports, newest first.
     *
     * @return array{items: list<array<string, mixed>>, pagination: array<string, mixed>}
     */
    public function exports(int $page = 1, int $pageSize = 20): array;

    /** @return list<array<string, mixed>> every stock template with its columns */
    public function templates(): array;

    /**
     * The event {"event", "job"} of a webhook whose X-YBB-Signature is valid and at most
     * $tolerance seconds old; WebhookVerificationException otherwise.
     *
     * @return array<string, mixed>
     */
    public function verifyWebhook(
        string $payload,
        ?string $signatureHeader,
        string $secret,
        int $tolerance = Webhook::DEFAULT_TOLERANCE,
    ): array;

    /**
     * One raw API call (for endpoints this interface has no method for), retried on 429 and 503.
     *
     * $spec: json, body + content_type, upload_file + content_type, headers (list of
     * "Name: value"), query, sink (a file path for the body), auth (default true).
     *
     * @param array<string, mixed> $spec
     */
    public function request(string $method, string $pathOrUrl, array $spec = []): Response;
}
