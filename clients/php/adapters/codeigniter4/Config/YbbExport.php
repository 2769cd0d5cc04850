<?php
declare(strict_types=1);

namespace Config;

use CodeIgniter\Config\BaseConfig;

/**
 * YBB export service settings. Copy to app/Config/YbbExport.php. Values come from .env:
 *
 *     ybbExport.baseUrl = https://exports.example.org
 *     ybbExport.apiKey  = ybb_...
 *     ybbExport.caFile  = /etc/ybb/cert.pem        (only for a self-signed certificate)
 *
 * CodeIgniter fills public properties from .env keys named <shortClassName>.<property>.
 */
class YbbExport extends BaseConfig
{
    public string $baseUrl = 'https://127.0.0.1:8443';
    public string $apiKey = '';
    public string $caFile = '';
    public int $timeout = 130;
    public int $maxRetries = 3;
    /** Secret for verifying webhooks (the API key's webhook_secret). */
    public string $webhookSecret = '';
}
