<?php
declare(strict_types=1);

namespace YbbExport;

use YbbExport\Exception\ExportFailedException;
use YbbExport\Exception\TimeoutException;
use YbbExport\Exception\TransportException;
use YbbExport\Exception\YbbException;
use YbbExport\Http\Response;

/**
 * Client for the YBB Data Management Service (API v1). Dependency-free: PHP 8.1+ and ext-curl.
 *
 *     $ybb = new YbbExport\Client([
 *         'base_url' => 'https://exports.example.org',
 *         'api_key'  => getenv('YBB_API_KEY'),
 *         'ca_file'  => '/etc/ybb/cert.pem',         // only for a self-signed certificate
 *     ]);
 *     $result = $ybb->export('participants/standard', $rows, ['filename' => 'participants-june']);
 *     $result->getPath();   // the downloaded .xlsx
 *
 * Options (all but base_url and api_key optional):
 *   base_url          https://host[:port] of the service (Nginx)
 *   api_key           sent as X-API-Key
 *   ca_file           CA bundle or certificate to trust (the development stack's var/tls/cert.pem)
 *   verify_tls        true (default); false disables certificate checks: never in production
 *   connect_timeout   seconds to connect (default 10)
 *   timeout           seconds for one API call (default 130: a synchronous export may wait 120 s)
 *   download_timeout  seconds for one download, 0 = no limit (default 0; stalls abort after 60 s)
 *   max_retries       retries of a 429 or 503 answer or a refused connection (default 3)
 *   max_retry_delay   longest wait between retries, in seconds (default 30)
 *   poll_interval     first wait between status polls, in seconds (default 0.5; grows 1.5x)
 *   max_poll_interval longest wait between status polls (default 5)
 *   export_timeout    seconds export() waits for an asynchronous export (default 900)
 *   batch_size        rows per batch when export() uploads an iterable (default 5000)
 *   max_batch_bytes   bytes per batch, under the service's 100 MB body limit (default 32 MiB)
 *   user_agent        User-Agent header
 */
class Client implements ClientInterface
{
    public const VERSION = '1.0.0';
    private const ENDED = ['succeeded', 'failed', 'cancelled', 'expired'];
    /** The service keeps at most this many characters of an Idempotency-Key. */
    public const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
    private const JSON_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION
        | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR;

    private string $baseUrl;
    private string $apiKey;
    /** @var array<string, mixed> */
    private array $options;
    /** @var \CurlHandle|null one handle, so that connections (and TLS sessions) are reused */
    private ?\CurlHandle $curl = null;
    private ?string $lastRequestId = null;

    /** @param array<string, mixed> $options see the class comment */
    public function __construct(array $options)
    {
        if (!extension_loaded('curl')) {
            throw new \LogicException('The YBB export client needs the curl extension (php-curl)');
        }
        $baseUrl = rtrim((string) ($options['base_url'] ?? ''), '/');
        if (!preg_match('#^https?://#i', $baseUrl)) {
            throw new \InvalidArgumentException('base_url must be an http(s) URL, e.g. https://127.0.0.1:8443');
        }
        if (($options['api_key'] ?? '') === '') {
            throw new \InvalidArgumentException('api_key is required');
        }
        $this->baseUrl = $baseUrl;
        $this->apiKey = (string) $options['api_key'];
        $this->options = $options + [
            'ca_file' => null,
            'verify_tls' => true,
            'connect_timeout' => 10,
            'timeout' => 130,
            'download_timeout' => 0,
            'max_retries' => 3,
            'max_retry_delay' => 30,
            'poll_interval' => 0.5,
            'max_poll_interval' => 5,
            'export_timeout' => 900,
            'batch_size' => 5000,
            'max_batch_bytes' => 32 * 1024 * 1024,
            'user_agent' => 'ybb-export-php/' . self::VERSION . ' PHP/' . PHP_VERSION,
        ];
        if ($this->options['ca_file'] !== null && !is_readable((string) $this->options['ca_file'])) {
            throw new \InvalidArgumentException('ca_file is not readable: ' . $this->options['ca_file']);
        }
    }

    /** A client from YBB_BASE_URL, YBB_API_KEY and YBB_CA_CERT (optional), plus $options. */
    public static function fromEnvironment(array $options = []): self
    {
        $env = static fn (string $name): ?string => ($value = getenv($name)) === false || $value === '' ? null : $value;
        return new self($options + array_filter([
            'base_url' => $env('YBB_BASE_URL'),
            'api_key' => $env('YBB_API_KEY'),
            'ca_file' => $env('YBB_CA_CERT'),
        ], static fn ($v) => $v !== null));
    }

    public function __destruct()
    {
        if ($this->curl !== null) {
            curl_close($this->curl);
        }
    }

    /** The X-Request-Id of the last request (quote it when reporting a problem). */
    public function getLastRequestId(): ?string
    {
        return $this->lastRequestId;
    }

    // -- exports ---------------------------------------------------------------------------

    /**
     * Export and download: the one call most code needs.
     *
     * $records is an array of rows (sent in one request; answered at once when small) or any
     * iterable, e.g. a generator over a database cursor, which is uploaded in NDJSON batches so
     * that PHP never holds every row. Waits for the export (polling with backoff, honouring
     * Retry-After) and downloads the file.
     *
     * $options: the request fields (format, filename, columns, filters, sort, select, rename,
     * order, dedupe, options, mode, callback_url), plus
     *   path            where to save the file: a file name, or an existing directory
     *                   (default: the system temp directory)
     *   batch_size      rows per batch for iterables
     *   idempotency_key see submit()
     *
     * @param iterable<array<string, mixed>|object> $records
     * @param array<string, mixed> $options
     */
    public function export(string $template, iterable $records, array $options = []): ExportResult
    {
        $path = $options['path'] ?? null;
        unset($options['path']);
        if (is_array($records)) {
            $job = $this->submit($template, $records, $options);
        } else {
            $batchSize = (int) ($options['batch_size'] ?? $this->options['batch_size']);
            unset($options['batch_size'], $options['mode']);
            $job = $this->uploadInBatches($records, $batchSize, $template, $options);
        }
        if (!in_array($job['state'] ?? '', self::ENDED, true)) {
            $job = $this->wait((string) $job['id']);
        } elseif ($job['state'] !== 'succeeded') {
            throw ExportFailedException::fromJob($job, $this->lastRequestId);
        }
        $target = $this->targetPath($job, is_string($path) ? $path : null);
        $this->download((string) $job['id'], $target);
        $bytes = (int) filesize($target);
        return new ExportResult($job, $target, $bytes);
    }

    /**
     * Create an export from an array of records (POST /api/v1/exports) and return the job:
     * finished (state "succeeded") when the service answered 201, otherwise queued or running.
     * A failed synchronous export throws (ValidationException with the rows for invalid_records).
     *
     * An Idempotency-Key is generated (or taken from $options['idempotency_key']) so that the
     * client's retries never start a second export. Give your own key (e.g. "participants-" . $rowId)
     * to make a retry by your code safe too: the same key answers the same job, and the same key
     * with a different request throws ValidationException (422, idempotency_key_reused).
     *
     * @param array<int, array<string, mixed>|object> $records
     * @param array<string, mixed> $options request fields, see export()
     * @return array<string, mixed>
     */
    public function submit(string $template, array $records, array $options = []): array
    {
        $idempotencyKey = self::idempotencyKey($options);
        unset($options['idempotency_key'], $options['path'], $options['batch_size']);
        $body = $this->exportBody($template, $options);
        $body['records'] = self::recordList($records);
        return $this->request('POST', '/api/v1/exports', [
            'json' => $body,
            'headers' => ['Idempotency-Key: ' . $idempotencyKey],
        ])->json() ?? [];
    }

    /**
     * Upload rows in batches and start the export: POST /api/v1/exports with upload: true, then
     * one POST .../records per batch of NDJSON (at most $batchSize rows and max_batch_bytes), then
     * POST .../commit. Only one batch is in memory at a time, so a generator over a database
     * cursor exports 50,000 rows without PHP holding them. Returns the committed job (queued);
     * wait() for it, then download(). On any error the upload job is cancelled.
     *
     * $options: request fields (format, filename, columns, filters, sort, ..., callback_url), and
     * expected_rows: the commit fails with row_count_mismatch (422) unless exactly this many arrived;
     * idempotency_key: when an upload with this key (and the same options) was already committed,
     * that job is returned at once and no record is sent again.
     *
     * @param iterable<array<string, mixed>|object> $records
     * @param array<string, mixed> $options
     * @return array<string, mixed>
     */
    public function uploadInBatches(iterable $records, int $batchSize = 5000, string $template = '', array $options = []): array
    {
        if ($batchSize < 1) {
            throw new \InvalidArgumentException('batchSize must be at least 1');
        }
        $maxBytes = (int) ($options['max_batch_bytes'] ?? $this->options['max_batch_bytes']);
        unset($options['max_batch_bytes'], $options['path'], $options['batch_size'], $options['mode']);
        $job = $this->createUpload($template, $options);
        $id = (string) $job['id'];
        if (($job['state'] ?? '') !== 'awaiting_records') {
            // An earlier call with the same idempotency_key committed this upload: a retry (of a
            // queue job, say) gets that export back, without sending the records again.
            return $job;
        }
        try {
            $batch = '';
            $rows = 0;
            foreach ($records as $record) {
                $line = self::encodeRecord($record) . "\n";
                if ($rows > 0 && strlen($batch) + strlen($line) > $maxBytes) {
                    $this->sendBatch($id, $batch);
                    [$batch, $rows] = ['', 0];
                }
                $batch .= $line;
                if (++$rows >= $batchSize) {
                    $this->sendBatch($id, $batch);
                    [$batch, $rows] = ['', 0];
                }
            }
            if ($rows > 0) {
                $this->sendBatch($id, $batch);
            }
            return $this->commit($id);
        } catch (\Throwable $e) {
            try {
                $this->cancel($id);
            } catch (YbbException) {
                // the original error matters more
            }
            throw $e;
        }
    }

    /**
     * An empty export that waits for its records (POST /api/v1/exports with upload: true).
     *
     * @param array<string, mixed> $options request fields and expected_rows
     * @return array<string, mixed> the job, state "awaiting_records"
     */
    public function createUpload(string $template, array $options = []): array
    {
        $idempotencyKey = self::idempotencyKey($options);
        unset($options['idempotency_key']);
        $body = $this->exportBody($template, $options);
        $body['upload'] = true;
        return $this->request('POST', '/api/v1/exports', [
            'json' => $body,
            'headers' => ['Idempotency-Key: ' . $idempotencyKey],
        ])->json() ?? [];
    }

    /**
     * Send one batch to an upload job: an array of rows (sent as NDJSON).
     *
     * @param iterable<array<string, mixed>|object> $records
     * @return array<string, mixed> {id, state, rows_total, batches}
     */
    public function uploadBatch(string $id, iterable $records): array
    {
        $body = '';
        foreach ($records as $record) {
            $body .= self::encodeRecord($record) . "\n";
        }
        return $this->sendBatch($id, $body);
    }

    /**
     * Send a file of records to an upload job, streamed from disk (never read into memory):
     * NDJSON (one JSON object per line, e.g. written by a nightly job) or a JSON array.
     *
     * @return array<string, mixed> {id, state, rows_total, batches}
     */
    public function uploadFile(string $id, string $path, string $contentType = 'application/x-ndjson'): array
    {
        if (!is_file($path) || !is_readable($path)) {
            throw new \InvalidArgumentException('Not a readable file: ' . $path);
        }
        return $this->request('POST', '/api/v1/exports/' . rawurlencode($id) . '/records', [
            'upload_file' => $path,
            'content_type' => $contentType,
        ])->json() ?? [];
    }

    /**
     * Start an upload job once every batch has been sent (POST .../commit).
     *
     * @return array<string, mixed> the job, queued
     */
    public function commit(string $id): array
    {
        return $this->request('POST', '/api/v1/exports/' . rawurlencode($id) . '/commit')->json() ?? [];
    }

    /**
     * The job: state, progress, rows, file_size, error, download_url, ...
     *
     * @return array<string, mixed>
     */
    public function status(string $id): array
    {
        return $this->request('GET', '/api/v1/exports/' . rawurlencode($id))->json() ?? [];
    }

    /**
     * Poll until the export ends, waiting with backoff (and at least Retry-After) between polls.
     * Returns the succeeded job; throws ExportFailedException when it failed, was cancelled or
     * expired, and TimeoutException after $timeout seconds (default: export_timeout).
     *
     * @return array<string, mixed>
     */
    public function wait(string $id, ?float $timeout = null): array
    {
        $deadline = microtime(true) + ($timeout ?? (float) $this->options['export_timeout']);
        $interval = (float) $this->options['poll_interval'];
        while (true) {
            $response = $this->request('GET', '/api/v1/exports/' . rawurlencode($id));
            $job = $response->json() ?? [];
            $state = (string) ($job['state'] ?? '');
            if ($state === 'succeeded') {
                return $job;
            }
            if (in_array($state, self::ENDED, true)) {
                throw ExportFailedException::fromJob($job, $this->lastRequestId);
            }
            $delay = min(max($interval, (float) ($response->retryAfter() ?? 0)), (float) $this->options['max_poll_interval']);
            if (microtime(true) + $delay > $deadline) {
                throw new TimeoutException(
                    sprintf('Export %s is still %s after the timeout', $id, $state),
                    0,
                    'export_timeout',
                    [],
                    $this->lastRequestId,
                );
            }
            usleep((int) ($delay * 1e6));
            $interval = min($interval * 1.5, (float) $this->options['max_poll_interval']);
        }
    }

    /**
     * Download the file of a succeeded export to $path, streamed to disk (never held in memory).
     * The file appears at $path only once complete. Returns $path.
     */
    public function download(string $id, string $path): string
    {
        $this->request('GET', '/api/v1/exports/' . rawurlencode($id) . '/file', ['sink' => $path]);
        return $path;
    }

    /** Download a signed download_url (no API key is sent) to $path. Returns $path. */
    public function downloadUrl(string $url, string $path): string
    {
        $this->request('GET', $url, ['sink' => $path, 'auth' => false]);
        return $path;
    }

    /**
     * Cancel an export that has not ended; its files are removed. ConflictException
     * (already_finished) when it has.
     *
     * @return array<string, mixed> the job, cancelled
     */
    public function cancel(string $id): array
    {
        return $this->request('DELETE', '/api/v1/exports/' . rawurlencode($id))->json() ?? [];
    }

    /**
     * One page of your exports, newest first.
     *
     * @return array{items: list<array<string, mixed>>, pagination: array<string, mixed>}
     */
    public function exports(int $page = 1, int $pageSize = 20): array
    {
        $response = $this->request('GET', '/api/v1/exports', ['query' => ['page' => $page, 'page_size' => $pageSize]]);
        $pagination = json_decode($response->header('X-Pagination') ?? '{}', true);
        return ['items' => $response->json() ?? [], 'pagination' => is_array($pagination) ? $pagination : []];
    }

    /** @return list<array<string, mixed>> every stock template with its columns */
    public function templates(): array
    {
        return $this->request('GET', '/api/v1/templates')->json() ?? [];
    }

    /**
     * Verify a webhook (see Webhook::verify): the decoded event {"event", "job"} when the
     * X-YBB-Signature header is valid and at most $tolerance seconds old.
     *
     * @return array<string, mixed>
     */
    public function verifyWebhook(string $payload, ?string $signatureHeader, string $secret, int $tolerance = Webhook::DEFAULT_TOLERANCE): array
    {
        return Webhook::verify($payload, $signatureHeader, $secret, $tolerance);
    }

    // -- HTTP ------------------------------------------------------------------------------

    /**
     * One API call, retried on 429 and 503 (honouring Retry-After, at most max_retries times)
     * and on refused connections. Error answers throw the typed YbbException subclass.
     *
     * $spec: json (encoded as the body), body + content_type, upload_file + content_type,
     * headers (list of "Name: value"), query (array), sink (file path for the body),
     * auth (send the API key; default true).
     *
     * @param array<string, mixed> $spec
     */
    public function request(string $method, string $pathOrUrl, array $spec = []): Response
    {
        $url = preg_match('#^https?://#i', $pathOrUrl) ? $pathOrUrl : $this->baseUrl . $pathOrUrl;
        if (!empty($spec['query'])) {
            $url .= (str_contains($url, '?') ? '&' : '?') . http_build_query($spec['query']);
        }
        if (array_key_exists('json', $spec)) {
            $spec['body'] = json_encode($spec['json'], self::JSON_FLAGS);
            $spec['content_type'] = 'application/json';
        }
        $maxRetries = (int) $this->options['max_retries'];
        for ($attempt = 0; ; $attempt++) {
            $requestId = 'php-' . bin2hex(random_bytes(8));
            $this->lastRequestId = $requestId;
            try {
                $response = $this->send($method, $url, $spec, $requestId);
            } catch (TransportException $e) {
                // Nothing reached the service when the connection was refused: safe to retry.
                if ($e->getErrorCode() === 'connection_failed' && $attempt < $maxRetries) {
                    usleep((int) (min(2 ** $attempt * 0.5, (float) $this->options['max_retry_delay']) * 1e6));
                    continue;
                }
                throw $e;
            }
            $this->lastRequestId = $response->header('X-Request-Id') ?? $requestId;
            if ($response->status < 400) {
                return $response;
            }
            if (in_array($response->status, [429, 503], true) && $attempt < $maxRetries) {
                $delay = $response->retryAfter() ?? 2 ** $attempt;
                usleep((int) (min(max($delay, 0.2), (float) $this->options['max_retry_delay']) * 1e6));
                continue;
            }
            throw YbbException::fromResponse($response, $requestId);
        }
    }

    /** @param array<string, mixed> $spec */
    private function send(string $method, string $url, array $spec, string $requestId): Response
    {
        $curl = $this->handle();
        $headers = ['Accept: application/json', 'X-Request-Id: ' . $requestId, 'Expect:'];
        if ($spec['auth'] ?? true) {
            $headers[] = 'X-API-Key: ' . $this->apiKey;
        }
        if (isset($spec['content_type'])) {
            $headers[] = 'Content-Type: ' . $spec['content_type'];
        }
        foreach ((array) ($spec['headers'] ?? []) as $header) {
            $headers[] = self::checkHeader((string) $header);
        }
        $responseHeaders = [];
        $options = [
            CURLOPT_URL => $url,
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTPS | CURLPROTO_HTTP,
            CURLOPT_CONNECTTIMEOUT_MS => (int) ($this->options['connect_timeout'] * 1000),
            CURLOPT_TIMEOUT_MS => (int) ($this->options['timeout'] * 1000),
            CURLOPT_ENCODING => '',
            CURLOPT_USERAGENT => (string) $this->options['user_agent'],
            CURLOPT_SSL_VERIFYPEER => (bool) $this->options['verify_tls'],
            CURLOPT_SSL_VERIFYHOST => $this->options['verify_tls'] ? 2 : 0,
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$responseHeaders): int {
                if (str_starts_with($line, 'HTTP/')) {
                    $responseHeaders = [];  // a new response (after 100 Continue)
                } elseif (str_contains($line, ':')) {
                    [$name, $value] = explode(':', $line, 2);
                    $responseHeaders[strtolower(trim($name))] = trim($value);
                }
                return strlen($line);
            },
        ];
        if ($this->options['ca_file'] !== null) {
            $options[CURLOPT_CAINFO] = (string) $this->options['ca_file'];
        }
        if ($method === 'HEAD') {
            $options[CURLOPT_NOBODY] = true;
        }
        $upload = null;
        if (isset($spec['upload_file'])) {
            // Streamed from disk. "Expect: 100-continue" lets Nginx refuse (413, 429) before the upload.
            $upload = fopen((string) $spec['upload_file'], 'rb');
            $options[CURLOPT_UPLOAD] = true;
            $options[CURLOPT_INFILE] = $upload;
            $options[CURLOPT_INFILESIZE] = filesize((string) $spec['upload_file']);
            $headers = array_values(array_diff($headers, ['Expect:']));
            $headers[] = 'Expect: 100-continue';
        } elseif (isset($spec['body'])) {
            $options[CURLOPT_POSTFIELDS] = (string) $spec['body'];
        }
        $options[CURLOPT_HTTPHEADER] = $headers;

        $sink = null;
        $partPath = null;
        if (isset($spec['sink'])) {
            $partPath = $spec['sink'] . '.part-' . bin2hex(random_bytes(4));
            $sink = fopen($partPath, 'wb');
            if ($sink === false) {
                throw new TransportException('Cannot write ' . $partPath, 0, 'sink_not_writable', [], $requestId);
            }
            $options[CURLOPT_FILE] = $sink;
            $options[CURLOPT_TIMEOUT_MS] = (int) ($this->options['download_timeout'] * 1000);
            $options[CURLOPT_LOW_SPEED_LIMIT] = 1;
            $options[CURLOPT_LOW_SPEED_TIME] = 60;
        } else {
            $options[CURLOPT_RETURNTRANSFER] = true;
        }

        try {
            curl_setopt_array($curl, $options);
            $body = curl_exec($curl);
            $errno = curl_errno($curl);
            $error = curl_error($curl);
            $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        } finally {
            if ($upload !== null) {
                fclose($upload);
            }
            if ($sink !== null) {
                fclose($sink);
            }
            curl_reset($curl);
        }

        if ($errno !== 0 && !($errno === CURLE_SEND_ERROR && $status >= 400)) {
            if ($partPath !== null) {
                @unlink($partPath);
            }
            throw self::transportError($errno, $error, $method, $url, $requestId);
        }
        if ($partPath !== null) {
            if ($status >= 200 && $status < 300) {
                $this->finishDownload($partPath, (string) $spec['sink'], $responseHeaders, $requestId);
                $body = '';
            } else {
                $body = (string) file_get_contents($partPath, false, null, 0, 1024 * 1024);
                @unlink($partPath);
            }
        }
        return new Response($status, $responseHeaders, is_string($body) ? $body : '');
    }

    /** @param array<string, string> $headers */
    private function finishDownload(string $partPath, string $path, array $headers, string $requestId): void
    {
        clearstatcache(true, $partPath);
        $size = (int) filesize($partPath);
        $expected = $headers['content-length'] ?? null;
        if ($expected !== null && ctype_digit($expected) && (int) $expected !== $size && !isset($headers['content-encoding'])) {
            @unlink($partPath);
            throw new TransportException(
                sprintf('Incomplete download: %d of %d bytes', $size, (int) $expected), 0, 'incomplete_download', [], $requestId,
            );
        }
        if (!rename($partPath, $path)) {
            @unlink($partPath);
            throw new TransportException('Cannot move the download to ' . $path, 0, 'sink_not_writable', [], $requestId);
        }
    }

    private static function transportError(int $errno, string $error, string $method, string $url, string $requestId): TransportException
    {
        $where = $method . ' ' . preg_replace('#\?.*$#', '', $url);  // no signatures in messages
        return match ($errno) {
            CURLE_OPERATION_TIMEDOUT => new TimeoutException("Timed out: $where ($error)", 0, 'timeout', [], $requestId),
            CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST => new TransportException(
                "Cannot connect: $where ($error)", 0, 'connection_failed', [], $requestId,
            ),
            CURLE_SSL_CACERT, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, 51 => new TransportException(
                "TLS failure: $where ($error); set ca_file for a self-signed certificate", 0, 'tls_error', [], $requestId,
            ),
            default => new TransportException("Request failed: $where ($error)", 0, 'curl_error_' . $errno, [], $requestId),
        };
    }

    /**
     * The Idempotency-Key of a create request: $options['idempotency_key'], or a random one (so
     * that the client's own retries of the request never start a second export).
     *
     * @param array<string, mixed> $options
     */
    private static function idempotencyKey(array $options): string
    {
        $key = $options['idempotency_key'] ?? null;
        if ($key === null) {
            return bin2hex(random_bytes(16));
        }
        if (is_int($key)) {
            $key = (string) $key;  // e.g. a row id
        }
        $valid = is_string($key) && strlen($key) <= self::MAX_IDEMPOTENCY_KEY_LENGTH
            && preg_match('/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/', $key) === 1;
        if (!$valid) {
            throw new \InvalidArgumentException(sprintf(
                'idempotency_key must be 1 to %d printable ASCII characters, without leading or trailing spaces',
                self::MAX_IDEMPOTENCY_KEY_LENGTH,
            ));
        }
        return $key;
    }

    /** A "Name: value" request header, refused when it could smuggle in another header. */
    private static function checkHeader(string $header): string
    {
        if (!preg_match('/^[A-Za-z0-9!#$%&\'*+.^_`|~-]+:/', $header) || preg_match('/[\r\n\0]/', $header)) {
            throw new \InvalidArgumentException('Not a valid request header line: ' . json_encode($header));
        }
        return $header;
    }

    private function handle(): \CurlHandle
    {
        return $this->curl ??= curl_init();
    }

    // -- bodies ----------------------------------------------------------------------------

    /**
     * @param array<string, mixed> $options
     * @return array<string, mixed>
     */
    private function exportBody(string $template, array $options): array
    {
        $body = [];
        if ($template !== '') {
            $body['template'] = $template;
        }
        foreach ($options as $name => $value) {
            if ($value !== null) {
                $body[$name] = $value;
            }
        }
        return $body;
    }

    /** @return array<string, mixed> the batch answer */
    private function sendBatch(string $id, string $ndjson): array
    {
        return $this->request('POST', '/api/v1/exports/' . rawurlencode($id) . '/records', [
            'body' => $ndjson,
            'content_type' => 'application/x-ndjson',
        ])->json() ?? [];
    }

    /**
     * Rows as a JSON array of objects, whatever keys the PHP array had.
     *
     * @param array<int|string, mixed> $records
     * @return list<mixed>
     */
    private static function recordList(array $records): array
    {
        $list = [];
        foreach ($records as $record) {
            $list[] = self::checkRecord($record);
        }
        return $list;
    }

    private static function encodeRecord(mixed $record): string
    {
        return json_encode(self::checkRecord($record), self::JSON_FLAGS);
    }

    private static function checkRecord(mixed $record): mixed
    {
        if ($record === []) {
            return new \stdClass();  // [] would be a JSON array, not an object
        }
        if ($record instanceof \JsonSerializable) {
            $record = $record->jsonSerialize();
        }
        if (!is_array($record) && !is_object($record)) {
            throw new \InvalidArgumentException('Each record must be an array or an object, got ' . get_debug_type($record));
        }
        return $record;
    }

    /** @param array<string, mixed> $job */
    private function targetPath(array $job, ?string $path): string
    {
        $name = basename((string) ($job['filename'] ?? ('export-' . $job['id'])));
        if ($path === null) {
            return rtrim(sys_get_temp_dir(), '/') . '/ybb-' . $job['id'] . '-' . $name;
        }
        return is_dir($path) ? rtrim($path, '/') . '/' . $name : $path;
    }
}
