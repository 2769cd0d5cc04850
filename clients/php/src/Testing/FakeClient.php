<?php
declare(strict_types=1);

namespace YbbExport\Testing;

use PHPUnit\Framework\Assert;
use YbbExport\ClientInterface;
use YbbExport\Exception\ConflictException;
use YbbExport\Exception\ExpiredException;
use YbbExport\Exception\ExportFailedException;
use YbbExport\Exception\NotFoundException;
use YbbExport\Exception\ValidationException;
use YbbExport\Exception\YbbException;
use YbbExport\ExportResult;
use YbbExport\Http\Response;
use YbbExport\Webhook;

/**
 * An in-memory stand-in for the export service, for an application's own tests: it records every
 * call, keeps the jobs it "created" and writes canned files, without any network.
 *
 *     $ybb = new FakeClient();                        // exports succeed at once
 *     $exporter = new ParticipantExporter($ybb);      // your class, type-hinting ClientInterface
 *     $exporter->run();
 *     $ybb->assertSubmitted(fn (string $template, array $records, array $options) =>
 *         $template === 'participants/standard' && count($records) === 3 && $options['format'] === 'xlsx');
 *
 *     $ybb = new FakeClient(['state' => 'queued']);   // exports wait, like large real ones...
 *     $job = $ybb->submit('participants/standard', $rows);
 *     $ybb->finish($job['id']);                        // ...until the test lets them end
 *     $ybb->finish($job['id'], 'failed', ['code' => 'invalid_records', 'message' => 'Row 3 ...']);
 *
 *     $ybb->willFail(new RateLimitedException('Slow down', 429, 'rate_limited'), 'submit');
 *
 * It behaves like the service where an application's code can tell: the same idempotency_key
 * answers the same job (and with another request throws ValidationException
 * idempotency_key_reused), commit() checks expected_rows, download() of an export that has not
 * succeeded throws ConflictException (not_ready), cancel() of an ended one ConflictException
 * (already_finished), an unknown id NotFoundException. Records are stored as the service would
 * receive them (JSON-decoded arrays). Options:
 *
 *   state          what a started export becomes: "succeeded" (default) or "queued"
 *   file_contents  the downloaded file: a string, or a callable(array $job, list $records): string
 *                  (default: the records as CSV, JSON or NDJSON, or a placeholder for XLSX)
 *   templates      what templates() returns (default [])
 *   base_url       used in links and download_url (default https://ybb.fake)
 *
 * The assert* methods use PHPUnit's assertions when PHPUnit is loaded (they count as
 * assertions), and throw \AssertionError otherwise.
 */
class FakeClient implements ClientInterface
{
    private const ENDED = ['succeeded', 'failed', 'cancelled', 'expired'];

    /**
     * @var array{state: string, file_contents: string|callable|null, templates: list<array<string, mixed>>,
     *     base_url: string}
     */
    private array $options;
    /** @var array<string, array<string, mixed>> id => job */
    private array $jobs = [];
    /** @var array<string, list<array<string, mixed>>> id => records received */
    private array $records = [];
    /** @var array<string, array{method: string, template: string, options: array<string, mixed>}> id => its creation */
    private array $created = [];
    /** @var array<string, int> id => batches received */
    private array $batches = [];
    /** @var array<string, array{id: string, digest: string}> idempotency key => job */
    private array $keys = [];
    /** @var list<array{method: string, arguments: list<mixed>}> */
    private array $calls = [];
    /** @var list<array{id: string, path: string, url: ?string}> */
    private array $downloads = [];
    /** @var array<string, list<\Throwable>> method (or "*") => exceptions to throw */
    private array $failures = [];
    /** @var list<Response> */
    private array $responses = [];
    private int $sequence = 0;
    private ?string $lastRequestId = null;

    /** @param array<string, mixed> $options see the class comment */
    public function __construct(array $options = [])
    {
        $state = (string) ($options['state'] ?? 'succeeded');
        if (!in_array($state, ['succeeded', 'queued'], true)) {
            throw new \InvalidArgumentException('state must be "succeeded" or "queued"');
        }
        $this->options = [
            'state' => $state,
            'file_contents' => $options['file_contents'] ?? null,
            'templates' => array_values((array) ($options['templates'] ?? [])),
            'base_url' => rtrim((string) ($options['base_url'] ?? 'https://ybb.fake'), '/'),
        ];
    }

    // -- setting the scene ---------------------------------------------------------------------

    /**
     * Make the next call of $method (a ClientInterface method name, or "*" for any) throw $e,
     * e.g. a RateLimitedException, a TransportException or an ExportFailedException. Several
     * calls queue up, one exception per call.
     */
    public function willFail(\Throwable $e, string $method = '*'): static
    {
        $this->failures[$method][] = $e;
        return $this;
    }

    /** The answer of the next request() call (request() without one throws \LogicException). */
    public function willRespond(Response $response): static
    {
        $this->responses[] = $response;
        return $this;
    }

    /**
     * End an export, as the service would: "succeeded" (the file becomes downloadable), "failed"
     * (with $error: code, message, errors), "cancelled" or "expired". Returns the job.
     *
     * @param array{code?: string, message?: string, errors?: mixed} $error
     * @return array<string, mixed>
     */
    public function finish(string $id, string $state = 'succeeded', array $error = []): array
    {
        $this->find($id);
        if (!in_array($state, self::ENDED, true)) {
            throw new \InvalidArgumentException('state must be one of ' . implode(', ', self::ENDED));
        }
        if ($state === 'succeeded') {
            $this->succeed($id);
        } else {
            $default = ['code' => 'export_failed', 'message' => 'The export failed.'];
            $this->end($id, $state, $state === 'failed' ? $error + $default : null);
        }
        return $this->jobs[$id];
    }

    /**
     * A webhook as the service would POST it for a job (by default export.succeeded or
     * export.failed from its state), signed with $secret: feed it to your webhook controller.
     *
     * @return array{payload: string, signature: string} the raw body and the X-YBB-Signature header
     */
    public function webhook(string $id, string $secret, ?string $event = null, ?int $timestamp = null): array
    {
        $job = $this->find($id);
        $event ??= $job['state'] === 'succeeded' ? 'export.succeeded' : 'export.failed';
        $payload = json_encode(['event' => $event, 'job' => $job], JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
        return ['payload' => $payload, 'signature' => Webhook::header($payload, $secret, $timestamp)];
    }

    // -- what happened -------------------------------------------------------------------------

    /**
     * Every call of a ClientInterface method, in order, optionally only those of $method.
     *
     * @return list<array{method: string, arguments: list<mixed>}>
     */
    public function calls(?string $method = null): array
    {
        return array_values(array_filter(
            $this->calls,
            static fn (array $call): bool => $method === null || $call['method'] === $method,
        ));
    }

    /**
     * Every export created (by export(), submit(), uploadInBatches() or createUpload()), oldest
     * first, as {template, records, options, job, method}: the records received so far, the
     * request options (without path, batch_size and idempotency_key, which are the client's),
     * the job as it is now and the method that created it. With $filter, only those for which
     * $filter(string $template, array $records, array $options, array $job) is true.
     *
     * @return list<array{template: string, records: list<array<string, mixed>>, options: array<string, mixed>,
     *     job: array<string, mixed>, method: string}>
     */
    public function submissions(?callable $filter = null): array
    {
        $list = [];
        foreach ($this->created as $id => $created) {
            $submission = [
                'template' => $created['template'],
                'records' => $this->records[$id],
                'options' => $created['options'],
                'job' => $this->jobs[$id],
                'method' => $created['method'],
            ];
            $matches = $filter === null
                || $filter($submission['template'], $submission['records'], $submission['options'], $submission['job']);
            if ($matches) {
                $list[] = $submission;
            }
        }
        return $list;
    }

    /**
     * Every file written by download(), downloadUrl() or export().
     *
     * @return list<array{id: string, path: string, url: ?string}>
     */
    public function downloads(): array
    {
        return $this->downloads;
    }

    /**
     * Every job, oldest first.
     *
     * @return list<array<string, mixed>>
     */
    public function jobs(): array
    {
        return array_values($this->jobs);
    }

    // -- assertions ------------------------------------------------------------------------------

    /**
     * At least one export was created (exactly $times, when given) for which
     * $filter(string $template, array $records, array $options, array $job) is true (any, without one).
     */
    public function assertSubmitted(?callable $filter = null, ?int $times = null): void
    {
        $count = count($this->submissions($filter));
        if ($times === null) {
            self::check($count > 0, $filter === null ? 'No export was submitted.' : 'No submitted export matches.');
        } else {
            self::check($count === $times, sprintf('Expected %d matching exports, %d were submitted.', $times, $count));
        }
    }

    /** No export was created for which $filter is true (none at all, without a filter). */
    public function assertNotSubmitted(?callable $filter = null): void
    {
        $count = count($this->submissions($filter));
        $what = $filter === null ? 'were' : 'matching the filter were';
        self::check($count === 0, sprintf('%d export(s) %s submitted.', $count, $what));
    }

    /** No export was created. */
    public function assertNothingSubmitted(): void
    {
        $this->assertNotSubmitted();
    }

    /**
     * A file was written (by download(), downloadUrl() or export()) for which
     * $filter(string $path, array $job) is true (any file, without one).
     */
    public function assertDownloaded(?callable $filter = null): void
    {
        foreach ($this->downloads as $download) {
            if ($filter === null || $filter($download['path'], $this->jobs[$download['id']])) {
                self::check(true, '');
                return;
            }
        }
        self::check(false, $filter === null ? 'No export was downloaded.' : 'No download matches the filter.');
    }

    /** cancel() was called for the export $id (and cancelled it). */
    public function assertCancelled(string $id): void
    {
        self::check(($this->jobs[$id]['state'] ?? null) === 'cancelled', "Export $id was not cancelled.");
    }

    /**
     * $method was called (exactly $times times, when given), with arguments for which
     * $filter(...$arguments) is true (any, without a filter).
     */
    public function assertCalled(string $method, ?callable $filter = null, ?int $times = null): void
    {
        $count = 0;
        foreach ($this->calls($method) as $call) {
            if ($filter === null || $filter(...$call['arguments'])) {
                $count++;
            }
        }
        if ($times === null) {
            self::check($count > 0, "$method() was not called" . ($filter === null ? '.' : ' with those arguments.'));
        } else {
            self::check($count === $times, sprintf('Expected %d calls of %s(), got %d.', $times, $method, $count));
        }
    }

    /** $method was never called. */
    public function assertNotCalled(string $method): void
    {
        $count = count($this->calls($method));
        self::check($count === 0, sprintf('%s() was called %d time(s).', $method, $count));
    }

    // -- ClientInterface -------------------------------------------------------------------------

    public function getLastRequestId(): ?string
    {
        return $this->lastRequestId;
    }

    public function export(string $template, iterable $records, array $options = []): ExportResult
    {
        $this->called(__FUNCTION__, [$template, $records, $options]);
        $path = $options['path'] ?? null;
        unset($options['path']);
        if (is_array($records)) {
            $job = $this->doSubmit(__FUNCTION__, $template, $records, $options);
        } else {
            $batchSize = (int) ($options['batch_size'] ?? 5000);
            unset($options['batch_size'], $options['mode']);
            $job = $this->doUploadInBatches(__FUNCTION__, $records, $batchSize, $template, $options);
        }
        $job = $this->doWait((string) $job['id']);
        $target = $this->targetPath($job, is_string($path) ? $path : null);
        $this->doDownload((string) $job['id'], $target, null);
        return new ExportResult($this->jobs[$job['id']], $target, (int) filesize($target));
    }

    public function submit(string $template, array $records, array $options = []): array
    {
        $this->called(__FUNCTION__, [$template, $records, $options]);
        return $this->doSubmit(__FUNCTION__, $template, $records, $options);
    }

    public function uploadInBatches(
        iterable $records,
        int $batchSize = 5000,
        string $template = '',
        array $options = [],
    ): array {
        $this->called(__FUNCTION__, [$records, $batchSize, $template, $options]);
        return $this->doUploadInBatches(__FUNCTION__, $records, $batchSize, $template, $options);
    }

    public function createUpload(string $template, array $options = []): array
    {
        $this->called(__FUNCTION__, [$template, $options]);
        return $this->doCreateUpload(__FUNCTION__, $template, $options);
    }

    public function uploadBatch(string $id, iterable $records): array
    {
        $this->called(__FUNCTION__, [$id, $records]);
        return $this->append($id, self::recordList($records));
    }

    public function uploadFile(string $id, string $path, string $contentType = 'application/x-ndjson'): array
    {
        $this->called(__FUNCTION__, [$id, $path, $contentType]);
        if (!is_file($path) || !is_readable($path)) {
            throw new \InvalidArgumentException('Not a readable file: ' . $path);
        }
        $text = (string) file_get_contents($path);
        if (str_contains($contentType, 'ndjson')) {
            $lines = array_filter(
                preg_split('/\r?\n/', $text) ?: [],
                static fn (string $line): bool => trim($line) !== '',
            );
            $records = array_map(static fn (string $line): mixed => json_decode($line, true), array_values($lines));
        } else {
            $records = json_decode($text, true);
        }
        if (!is_array($records) || in_array(null, $records, true)) {
            throw $this->error(ValidationException::class, 400, 'invalid_json', 'The body is not JSON or NDJSON.');
        }
        return $this->append($id, self::recordList($records));
    }

    public function commit(string $id): array
    {
        $this->called(__FUNCTION__, [$id]);
        return $this->doCommit($id);
    }

    public function status(string $id): array
    {
        $this->called(__FUNCTION__, [$id]);
        return $this->find($id);
    }

    public function wait(string $id, ?float $timeout = null): array
    {
        $this->called(__FUNCTION__, [$id, $timeout]);
        return $this->doWait($id);
    }

    public function download(string $id, string $path): string
    {
        $this->called(__FUNCTION__, [$id, $path]);
        return $this->doDownload($id, $path, null);
    }

    public function downloadUrl(string $url, string $path): string
    {
        $this->called(__FUNCTION__, [$url, $path]);
        $id = preg_match('#/api/v1/exports/([^/?]+)/file#', $url, $match) ? rawurldecode($match[1]) : '';
        $this->find($id);
        return $this->doDownload($id, $path, $url);
    }

    public function cancel(string $id): array
    {
        $this->called(__FUNCTION__, [$id]);
        $job = $this->find($id);
        if (in_array($job['state'], self::ENDED, true)) {
            $message = "The export has already ended ({$job['state']}).";
            throw $this->error(ConflictException::class, 409, 'already_finished', $message);
        }
        $this->end($id, 'cancelled', null);
        return $this->jobs[$id];
    }

    public function exports(int $page = 1, int $pageSize = 20): array
    {
        $this->called(__FUNCTION__, [$page, $pageSize]);
        $all = array_reverse(array_values($this->jobs));
        $total = count($all);
        $pages = max(1, (int) ceil($total / max(1, $pageSize)));
        $pagination = [
            'total' => $total, 'total_pages' => $pages, 'first_page' => 1, 'last_page' => $pages, 'page' => $page,
        ];
        if ($page > 1) {
            $pagination['previous_page'] = $page - 1;
        }
        if ($page < $pages) {
            $pagination['next_page'] = $page + 1;
        }
        return ['items' => array_slice($all, ($page - 1) * $pageSize, $pageSize), 'pagination' => $pagination];
    }

    public function templates(): array
    {
        $this->called(__FUNCTION__, []);
        return $this->options['templates'];
    }

    public function verifyWebhook(
        string $payload,
        ?string $signatureHeader,
        string $secret,
        int $tolerance = Webhook::DEFAULT_TOLERANCE,
    ): array {
        $this->called(__FUNCTION__, [$payload, $signatureHeader, $secret, $tolerance]);
        return Webhook::verify($payload, $signatureHeader, $secret, $tolerance);
    }

    public function request(string $method, string $pathOrUrl, array $spec = []): Response
    {
        $this->called(__FUNCTION__, [$method, $pathOrUrl, $spec]);
        $response = array_shift($this->responses);
        if ($response === null) {
            throw new \LogicException("FakeClient has no answer for $method $pathOrUrl: give one with willRespond()");
        }
        return $response;
    }

    // -- the fake service ------------------------------------------------------------------------

    /** Record a call, then throw the exception willFail() queued for it, if any. */
    private function called(string $method, array $arguments): void
    {
        $this->calls[] = ['method' => $method, 'arguments' => $arguments];
        $this->lastRequestId = sprintf('fake-%016x', ++$this->sequence);
        foreach ([$method, '*'] as $key) {
            if (!empty($this->failures[$key])) {
                throw array_shift($this->failures[$key]);
            }
        }
    }

    /**
     * @param array<int, mixed> $records
     * @param array<string, mixed> $options
     * @return array<string, mixed>
     */
    private function doSubmit(string $method, string $template, array $records, array $options): array
    {
        $key = self::idempotencyKey($options);
        unset($options['idempotency_key'], $options['path'], $options['batch_size']);
        $records = self::recordList($records);
        if ($existing = $this->idempotent($key, [$template, $options, $records])) {
            return $existing;
        }
        $id = $this->create($method, $template, $options, $key, [$template, $options, $records], 'queued');
        $this->records[$id] = $records;
        $this->jobs[$id]['rows_total'] = count($records);
        $this->start($id);
        return $this->jobs[$id];
    }

    /**
     * @param iterable<mixed> $records
     * @param array<string, mixed> $options
     * @return array<string, mixed>
     */
    private function doUploadInBatches(
        string $method,
        iterable $records,
        int $batchSize,
        string $template,
        array $options,
    ): array {
        if ($batchSize < 1) {
            throw new \InvalidArgumentException('batchSize must be at least 1');
        }
        unset($options['max_batch_bytes'], $options['path'], $options['batch_size'], $options['mode']);
        $job = $this->doCreateUpload($method, $template, $options);
        if ($job['state'] !== 'awaiting_records') {
            return $job;  // committed by an earlier call with the same idempotency_key
        }
        $batch = [];
        foreach ($records as $record) {
            $batch[] = $record;
            if (count($batch) >= $batchSize) {
                $this->append((string) $job['id'], self::recordList($batch));
                $batch = [];
            }
        }
        if ($batch !== []) {
            $this->append((string) $job['id'], self::recordList($batch));
        }
        try {
            return $this->doCommit((string) $job['id']);
        } catch (\Throwable $e) {
            $this->end((string) $job['id'], 'cancelled', null);  // as the client cancels a failed upload
            throw $e;
        }
    }

    /**
     * @param array<string, mixed> $options
     * @return array<string, mixed>
     */
    private function doCreateUpload(string $method, string $template, array $options): array
    {
        $key = self::idempotencyKey($options);
        unset($options['idempotency_key']);
        if ($existing = $this->idempotent($key, [$template, $options, 'upload'])) {
            return $existing;
        }
        if ($template === '' && empty($options['columns'])) {
            $message = 'An upload job needs a template or columns.';
            throw $this->error(ValidationException::class, 422, 'validation_error', $message);
        }
        $id = $this->create($method, $template, $options, $key, [$template, $options, 'upload'], 'awaiting_records');
        return $this->jobs[$id];
    }

    /**
     * @param list<array<string, mixed>> $records
     * @return array<string, mixed>
     */
    private function append(string $id, array $records): array
    {
        $job = $this->find($id);
        if ($job['state'] !== 'awaiting_records') {
            $message = "The export is {$job['state']}; it takes no more records.";
            throw $this->error(ConflictException::class, 409, 'not_accepting_records', $message);
        }
        array_push($this->records[$id], ...$records);
        $this->batches[$id]++;
        $this->jobs[$id]['rows_total'] = count($this->records[$id]);
        return [
            'id' => $id,
            'state' => 'awaiting_records',
            'rows_total' => count($this->records[$id]),
            'batches' => $this->batches[$id],
        ];
    }

    /** @return array<string, mixed> */
    private function doCommit(string $id): array
    {
        $job = $this->find($id);
        if ($job['state'] !== 'awaiting_records') {
            throw $this->error(
                ConflictException::class,
                409,
                'not_accepting_records',
                "The export is {$job['state']}; only an upload awaiting records can be committed."
            );
        }
        $expected = $this->created[$id]['options']['expected_rows'] ?? null;
        if ($expected !== null && (int) $expected !== count($this->records[$id])) {
            throw $this->error(
                ValidationException::class,
                422,
                'row_count_mismatch',
                sprintf('Expected %d rows, received %d.', $expected, count($this->records[$id])),
                ['expected_rows' => (int) $expected, 'received_rows' => count($this->records[$id])]
            );
        }
        $this->jobs[$id]['state'] = 'queued';
        $this->start($id);
        return $this->jobs[$id];
    }

    /** @return array<string, mixed> */
    private function doWait(string $id): array
    {
        $job = $this->find($id);
        if ($job['state'] === 'awaiting_records') {
            throw new \LogicException("Export $id awaits its records: commit() it before waiting");
        }
        if (!in_array($job['state'], self::ENDED, true)) {
            $job = $this->succeed($id);  // a queued export ends while the caller waits
        }
        if ($job['state'] !== 'succeeded') {
            throw ExportFailedException::fromJob($job, $this->lastRequestId);
        }
        return $job;
    }

    private function doDownload(string $id, string $path, ?string $url): string
    {
        $job = $this->find($id);
        if ($job['state'] === 'expired') {
            throw $this->error(ExpiredException::class, 410, 'expired', 'This export has expired.');
        }
        if ($job['state'] !== 'succeeded') {
            $message = "The export is {$job['state']}; there is no file.";
            throw $this->error(ConflictException::class, 409, 'not_ready', $message);
        }
        if (file_put_contents($path, $this->contents($id)) === false) {
            throw new \RuntimeException('Cannot write ' . $path);
        }
        $this->downloads[] = ['id' => $id, 'path' => $path, 'url' => $url];
        return $path;
    }

    /**
     * @param array<string, mixed> $options
     * @param array<mixed> $request what the idempotency digest is made of
     */
    private function create(
        string $method,
        string $template,
        array $options,
        ?string $key,
        array $request,
        string $state,
    ): string {
        $id = sprintf('fake%028x', count($this->jobs) + 1);
        $format = (string) ($options['format'] ?? 'xlsx');
        $name = (string) ($options['filename'] ?? (str_replace('/', '-', $template) ?: 'export'));
        $name = trim((string) preg_replace('/[^\w.-]+/u', '_', $name), '._') ?: 'export';
        if (!str_ends_with(strtolower($name), '.' . $format)) {
            $name .= '.' . $format;
        }
        $now = time();
        $this->jobs[$id] = [
            'id' => $id, 'state' => $state, 'progress' => 0, 'template' => $template === '' ? null : $template,
            'format' => $format, 'filename' => $name, 'rows_total' => 0, 'rows_done' => 0, 'rows' => null,
            'file_size' => null, 'warnings' => null, 'error' => null,
            'created_at' => gmdate('Y-m-d\TH:i:s\Z', $now), 'started_at' => null, 'finished_at' => null,
            'expires_at' => gmdate('Y-m-d\TH:i:s\Z', $now + 72 * 3600),
            'links' => ['self' => $this->options['base_url'] . '/api/v1/exports/' . $id],
            'download_url' => null, 'webhook_status' => isset($options['callback_url']) ? 'pending' : null,
        ];
        $this->records[$id] = [];
        $this->batches[$id] = 0;
        $this->created[$id] = ['method' => $method, 'template' => $template, 'options' => $options];
        if ($key !== null) {
            $this->keys[$key] = ['id' => $id, 'digest' => self::digest($request)];
        }
        return $id;
    }

    /** A queued export: it succeeds at once unless the fake was made with state "queued". */
    private function start(string $id): void
    {
        $this->jobs[$id]['started_at'] = gmdate('Y-m-d\TH:i:s\Z');
        if ($this->options['state'] === 'succeeded') {
            $this->succeed($id);
        }
    }

    /** @return array<string, mixed> */
    private function succeed(string $id): array
    {
        $rows = count($this->records[$id]);
        $this->jobs[$id] = [
            'state' => 'succeeded', 'progress' => 100, 'rows_done' => $rows, 'rows' => $rows, 'warnings' => [],
            'started_at' => $this->jobs[$id]['started_at'] ?? gmdate('Y-m-d\TH:i:s\Z'),
            'finished_at' => gmdate('Y-m-d\TH:i:s\Z'),
            'file_size' => strlen($this->contents($id)),
            'download_url' => sprintf(
                '%s/api/v1/exports/%s/file?expires=%d&signature=fake',
                $this->options['base_url'],
                $id,
                time() + 3600,
            ),
            'webhook_status' => $this->jobs[$id]['webhook_status'] === null ? null : 'delivered',
        ] + $this->jobs[$id];
        $this->jobs[$id]['links']['file'] = $this->jobs[$id]['links']['self'] . '/file';
        return $this->jobs[$id];
    }

    /** @param array<string, mixed>|null $error */
    private function end(string $id, string $state, ?array $error): void
    {
        $this->jobs[$id]['state'] = $state;
        $this->jobs[$id]['finished_at'] = gmdate('Y-m-d\TH:i:s\Z');
        $this->jobs[$id]['download_url'] = null;
        $this->jobs[$id]['error'] = $error;
        if ($state !== 'expired') {
            unset($this->jobs[$id]['links']['file']);
        }
    }

    /** @return array<string, mixed> */
    private function find(string $id): array
    {
        if (!isset($this->jobs[$id])) {
            throw $this->error(NotFoundException::class, 404, 'not_found', 'No such export.');
        }
        return $this->jobs[$id];
    }

    /**
     * The earlier job of an idempotency key, when the request is the same; a ValidationException
     * (idempotency_key_reused) when it is not; null for a new key.
     *
     * @param array<mixed> $request
     * @return array<string, mixed>|null
     */
    private function idempotent(?string $key, array $request): ?array
    {
        if ($key === null || !isset($this->keys[$key])) {
            return null;
        }
        if ($this->keys[$key]['digest'] !== self::digest($request)) {
            throw $this->error(
                ValidationException::class,
                422,
                'idempotency_key_reused',
                'This Idempotency-Key was used for a different request; use a new key for a new export.'
            );
        }
        return $this->jobs[$this->keys[$key]['id']];
    }

    private function contents(string $id): string
    {
        $job = $this->jobs[$id];
        $records = $this->records[$id];
        $contents = $this->options['file_contents'];
        if (is_callable($contents)) {
            return (string) $contents($job, $records);
        }
        if ($contents !== null) {
            return (string) $contents;
        }
        switch ($job['format']) {
            case 'json':
                return (string) json_encode($records, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
            case 'ndjson':
                $lines = '';
                foreach ($records as $record) {
                    $lines .= json_encode($record, JSON_UNESCAPED_UNICODE) . "\n";
                }
                return $lines;
            case 'csv':
                $out = fopen('php://temp', 'w+b');
                $columns = array_keys($records[0] ?? []);
                fputcsv($out, $columns, ',', '"', '');
                foreach ($records as $record) {
                    $cells = [];
                    foreach ($columns as $column) {
                        $cells[] = is_scalar($record[$column] ?? null) ? (string) $record[$column] : '';
                    }
                    fputcsv($out, $cells, ',', '"', '');
                }
                rewind($out);
                return (string) stream_get_contents($out);
            default:
                return sprintf("FAKE %s EXPORT %s: %d rows\n", strtoupper($job['format']), $id, count($records));
        }
    }

    /** @param array<string, mixed> $job */
    private function targetPath(array $job, ?string $path): string
    {
        $name = basename((string) $job['filename']);
        if ($path === null) {
            return rtrim(sys_get_temp_dir(), '/') . '/ybb-' . $job['id'] . '-' . $name;
        }
        return is_dir($path) ? rtrim($path, '/') . '/' . $name : $path;
    }

    /**
     * @param class-string<YbbException> $class
     * @param array<mixed> $errors
     */
    private function error(string $class, int $status, string $code, string $message, array $errors = []): YbbException
    {
        return new $class($message, $status, $code, $errors, $this->lastRequestId);
    }

    /**
     * The records as the service receives them: JSON objects, decoded to arrays.
     *
     * @param iterable<mixed> $records
     * @return list<array<string, mixed>>
     */
    private static function recordList(iterable $records): array
    {
        $list = [];
        foreach ($records as $record) {
            if ($record instanceof \JsonSerializable) {
                $record = $record->jsonSerialize();
            }
            if (!is_array($record) && !is_object($record)) {
                $type = get_debug_type($record);
                throw new \InvalidArgumentException('Each record must be an array or an object, got ' . $type);
            }
            $flags = JSON_INVALID_UTF8_SUBSTITUTE | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR;
            $json = json_encode($record, $flags);
            $decoded = json_decode($json, true);
            $list[] = is_array($decoded) ? $decoded : [];
        }
        return $list;
    }

    /** The same rules as Client: a given key must be 1 to 200 printable ASCII characters. */
    private static function idempotencyKey(array $options): ?string
    {
        $key = $options['idempotency_key'] ?? null;
        if ($key === null) {
            return null;
        }
        if (is_int($key)) {
            $key = (string) $key;  // e.g. a row id
        }
        $valid = is_string($key) && strlen($key) <= 200
            && preg_match('/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/', $key) === 1;
        if (!$valid) {
            throw new \InvalidArgumentException(
                'idempotency_key must be 1 to 200 printable ASCII characters, without leading or trailing spaces',
            );
        }
        return $key;
    }

    /** @param array<mixed> $request */
    private static function digest(array $request): string
    {
        return hash('sha256', serialize($request));
    }

    private static function check(bool $condition, string $message): void
    {
        if (class_exists(Assert::class, false)) {
            Assert::assertTrue($condition, $message);
        } elseif (!$condition) {
            throw new \AssertionError($message);
        }
    }
}
