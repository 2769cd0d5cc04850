<?php
declare(strict_types=1);

namespace Config;

use CodeIgniter\Config\BaseService;
use YbbExport\Client;

/**
 * Add the ybbExport() method to your app/Config/Services.php (keep your other methods):
 *
 *     $client = service('ybbExport');          // shared instance
 *     $client = \Config\Services::ybbExport(false);  // a new one
 */
class Services extends BaseService
{
    public static function ybbExport(bool $getShared = true): Client
    {
        if ($getShared) {
            return static::getSharedInstance('ybbExport');
        }
        /** @var YbbExport $config */
        $config = config('YbbExport');
        return new Client([
            'base_url' => $config->baseUrl,
            'api_key' => $config->apiKey,
            'ca_file' => $config->caFile !== '' ? $config->caFile : null,
            'timeout' => $config->timeout,
            'max_retries' => $config->maxRetries,
        ]);
    }
}
