<?php
declare(strict_types=1);

namespace App\Jobs;

use CodeIgniter\Queue\BaseJob;
use CodeIgniter\Queue\Interfaces\JobInterface;

/**
 * Queue job (the codeigniter4/queue package) that sends an export's rows to YBB: the slow part
 * that must not run while a browser waits. Copy to app/Jobs/ and register it in
 * app/Config/Queue.php:
 *
 *     public array $jobHandlers = ['ybb-start-export' => \App\Jobs\StartExport::class, ...];
 *
 * Pushed by ParticipantExport::start() with ['export_id' => ...]; run by `php spark queue:work ybb`.
 */
class StartExport extends BaseJob implements JobInterface
{
    protected int $retryAfter = 60;
    protected int $tries = 3;

    public function process(): void
    {
        $db = db_connect();
        // getUnbufferedRow() reads one row at a time: 50,000 participants never sit in PHP memory.
        $query = $db->query('SELECT id, full_name, email, nationality, institution, phone_number, category,
                                    form_status, payment_status, created_at FROM participants ORDER BY id');
        $rows = (static function () use ($query): \Generator {
            while ($row = $query->getUnbufferedRow('array')) {
                yield $row;
            }
        })();
        // Returns once the export is queued at YBB; a retry of this job reuses the same YBB job.
        service('exportTracker')->send((int) $this->data['export_id'], $rows);
    }
}
