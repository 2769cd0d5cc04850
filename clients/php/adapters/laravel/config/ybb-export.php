<?php
declare(strict_types=1);

// Published to config/ybb-export.php by: php artisan vendor:publish --tag=ybb-export-config
return [
    'base_url' => env('YBB_BASE_URL', 'https://127.0.0.1:8443'),
    'api_key' => env('YBB_API_KEY', ''),
    // Only for a self-signed certificate (the development stack's var/tls/cert.pem).
    'ca_file' => env('YBB_CA_CERT'),
    'timeout' => env('YBB_TIMEOUT', 130),
    'max_retries' => env('YBB_MAX_RETRIES', 3),
    // The API key's webhook secret, for YbbExport::verifyWebhook().
    'webhook_secret' => env('YBB_WEBHOOK_SECRET', ''),
];
