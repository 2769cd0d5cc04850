<?php
declare(strict_types=1);

namespace App\Jobs;

use App\Models\ExportModel;
use CodeIgniter\Queue\BaseJob;
use CodeIgniter\Queue\Interfaces\JobInterface;

/**
 * Queue job that records the end of an export and downloads its file, pushed by the webhook
 * (so that the webhook answers YBB at once). Register it in app/Config/Queue.php:
 *
 *     public array $jobHandlers = [..., 'ybb-fetch-export' => \App\Jobs\FetchExport::class];
 */
class FetchExport extends BaseJob implements JobInterface
{
    protected int $retryAfter = 30;
    protected int $tries = 5;

    public function process(): void
    {
        $export = model(ExportModel::class)->find((int) $this->data['export_id']);
        if ($export !== null) {
            service('exportTracker')->refresh($export);  // one status() and the download, no waiting
        }
    }
}
