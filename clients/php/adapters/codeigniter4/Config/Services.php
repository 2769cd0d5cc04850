<?php
declare(strict_types=1);

namespace Config;

use App\Libraries\ExportTracker;
use App\Models\ExportModel;
use CodeIgniter\Config\BaseService;
use YbbExport\Client;
use YbbExport\ClientInterface;

/**
 * Add these methods to your app/Config/Services.php (keep your other methods):
 *
 *     $client = service('ybbExport');                 // shared instance
 *     $client = \Config\Services::ybbExport(false);   // a new one
 *
 * In tests, put a fake in its place (CodeIgniter's mock services):
 *
 *     $fake = new \YbbExport\Testing\FakeClient();
 *     \Config\Services::injectMock('ybbExport', $fake);
 */
class Services extends BaseService
{
    public static function ybbExport(bool $getShared = true): ClientInterface
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

    /** The non-blocking export flow of Libraries/ExportTracker.php, on the ybbExport client. */
    public static function exportTracker(bool $getShared = true): ExportTracker
    {
        if ($getShared) {
            return static::getSharedInstance('exportTracker');
        }
        return new ExportTracker(service('ybbExport'), model(ExportModel::class), WRITEPATH . 'exports');
    }
}
