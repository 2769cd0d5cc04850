<?php
// What the old service's PHP apps do, as its docs and examples show them (codeigniter_integration_examples.php:
// send_to_python_api; PHP_INTEGRATION_GUIDE.md: curl with CURLOPT_FOLLOWLOCATION; YBB_API_CODEIGNITER_INTEGRATION.md:
// file_get_contents for /health and the status, $health['status'] === 'healthy'), written for this test:
// php old_php_client.php <base url, e.g. http://127.0.0.1:8080> <CA file> [API key]
// Prints one JSON object with what the app saw; tests/compat/test_transport.py checks it.

[$script, $base, $cafile] = $argv;
$key = $argv[3] ?? '';
$headers = ['Content-Type: application/json', 'Accept: application/json'];
if ($key !== '') {
    $headers[] = 'X-API-Key: ' . $key;
}

function call_api(string $url, ?array $payload, array $headers, string $cafile): array
{
    $ch = curl_init();
    $options = [
        CURLOPT_URL => $url,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_FOLLOWLOCATION => true,
        CURLOPT_TIMEOUT => 300,
        CURLOPT_HTTPHEADER => $headers,
        CURLOPT_CAINFO => $cafile,
        CURLOPT_HEADER => true,
    ];
    if ($payload !== null) {
        $options[CURLOPT_POST] = true;
        $options[CURLOPT_POSTFIELDS] = json_encode($payload);
    }
    curl_setopt_array($ch, $options);
    $raw = curl_exec($ch);
    $code = curl_getinfo($ch, CURLINFO_HTTP_CODE);
    $header_size = curl_getinfo($ch, CURLINFO_HEADER_SIZE);
    $redirects = curl_getinfo($ch, CURLINFO_REDIRECT_COUNT);
    $error = curl_error($ch);
    curl_close($ch);
    $head = substr((string) $raw, 0, $header_size);
    $blocks = preg_split("/\r\n\r\n/", trim($head));
    $last = end($blocks);  // the headers of the last answer, after the redirects
    $found = [];
    foreach (explode("\r\n", $last) as $line) {
        if (strpos($line, ':') !== false) {
            [$name, $value] = explode(':', $line, 2);
            $found[strtolower(trim($name))] = trim($value);
        }
    }
    return ['code' => $code, 'redirects' => $redirects, 'error' => $error, 'headers' => $found,
            'body' => substr((string) $raw, $header_size)];
}

function get_contents(string $url, string $key, string $cafile): ?array
{
    $http = ['method' => 'GET', 'ignore_errors' => true];
    if ($key !== '') {
        $http['header'] = 'X-API-Key: ' . $key;
    }
    $context = stream_context_create(['http' => $http, 'ssl' => ['cafile' => $cafile]]);
    $response = file_get_contents($url, false, $context);
    return $response === false ? null : json_decode($response, true);
}

$seen = [];

$health = get_contents($base . '/health', $key, $cafile);
$seen['health_is_healthy'] = ($health['status'] ?? null) === 'healthy';

$participants = [
    ['id' => 1, 'name' => 'Alice Johnson', 'email' => 'alice@summit2025.com', 'program_id' => 101,
     'form_status' => 'approved', 'birthdate' => '1999-03-15', 'created_at' => '2025-07-26 09:30:00'],
    ['id' => 2, 'name' => 'Bob Chen', 'email' => 'bob@summit2025.com', 'program_id' => 101,
     'form_status' => 'pending', 'birthdate' => '15/11/1998', 'created_at' => '2025-07-26 10:00:00'],
];
$payload = [
    'data' => $participants,
    'template' => 'standard',
    'format' => 'excel',
    'filename' => 'Japan_Youth_Summit_2025_Participants_26-07-2025.xlsx',
    'sheet_name' => 'Participants Data Jul 2025',
    'filters' => ['program_id' => 101, 'status' => 'all', 'date_from' => '2025-07-01', 'date_to' => '2025-07-26'],
];
$created = call_api($base . '/api/ybb/export/participants', $payload, $headers, $cafile);
$response = json_decode($created['body'], true);
$seen['export'] = ['code' => $created['code'], 'redirects' => $created['redirects'], 'error' => $created['error'],
                   'status' => $response['status'] ?? null];
if (($response['status'] ?? null) === 'success') {
    $data = $response['data'];
    $metadata = $response['metadata'] ?? [];
    $seen['export'] += [
        'single_file' => !isset($response['export_strategy']) || $response['export_strategy'] !== 'multi_file',
        'export_id' => $data['export_id'],
        'file_name' => $data['file_name'],
        'download_url' => $data['download_url'],
        'file_size' => $data['file_size'],
        'record_count' => number_format($data['record_count']),
        'processing_time' => $metadata['processing_time'] ?? null,
        'expires_at' => $data['expires_at'] ?? null,
    ];

    $status = get_contents($base . "/api/ybb/export/{$data['export_id']}/status", $key, $cafile);
    $seen['status'] = $status['status'] ?? null;

    $download = call_api($base . $data['download_url'], null, array_slice($headers, 2), $cafile);
    $disposition = $download['headers']['content-disposition'] ?? '';
    preg_match('/filename="(.+)"/', $disposition, $greedy);
    $exploded = trim(explode(';', explode('filename=', $disposition)[1] ?? '')[0], '"');
    $seen['download'] = [
        'code' => $download['code'],
        'content_type' => $download['headers']['content-type'] ?? null,
        'is_xlsx' => substr($download['body'], 0, 2) === 'PK',
        'bytes' => strlen($download['body']),
        'filename_by_regex' => $greedy[1] ?? null,
        'filename_by_explode' => $exploded,
    ];
}
echo json_encode($seen, JSON_PRETTY_PRINT), "\n";
