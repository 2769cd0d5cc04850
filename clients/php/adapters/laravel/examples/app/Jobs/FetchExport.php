<?php
declare(strict_types=1);

namespace App\Jobs;

use App\Models\Export;
use DateTimeInterface;
use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;
use Illuminate\Support\Facades\Storage;
use YbbExport\ClientInterface;
use YbbExport\Exception\NotFoundException;

/**
 * Looks at an export's YBB job once (one status() call, never wait()) and downloads the file
 * when it has succeeded. While the export runs, the job is released back to the queue with a
 * growing delay: no worker sits waiting for YBB. Dispatched by StartParticipantExport (polling)
 * and by the webhook (at once); whichever runs first downloads, the other finds it done.
 */
class FetchExport implements ShouldQueue
{
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;
    use SerializesModels;

    public function __construct(public Export $export)
    {
    }

    /** Every release() counts as an attempt: limit by time instead (it takes precedence over $tries). */
    public function retryUntil(): DateTimeInterface
    {
        return now()->addHours(2);
    }

    public function handle(ClientInterface $ybb): void
    {
        $export = $this->export->fresh();
        if ($export === null || $export->ybb_id === null || $export->isDone()) {
            return;
        }
        try {
            $job = $ybb->status($export->ybb_id);
        } catch (NotFoundException) {
            $export->update(['state' => 'expired', 'error' => 'YBB no longer knows this export.']);
            return;
        }
        if (!in_array($job['state'], Export::ENDED, true)) {
            $export->update(['state' => $job['state']]);
            $this->release(min(60, 5 * $this->attempts()));  // 5 s, 10 s, ... at most a minute
            return;
        }
        if ($job['state'] !== 'succeeded') {
            $export->update(['state' => $job['state'], 'error' => $job['error']['message'] ?? $job['state']]);
            return;
        }
        $path = 'exports/' . $export->id . '-' . basename((string) $job['filename']);
        Storage::disk('local')->makeDirectory('exports');
        $ybb->download($export->ybb_id, Storage::disk('local')->path($path));  // streamed to disk
        $export->update(['state' => 'succeeded', 'path' => $path]);
    }
}
