<?php
declare(strict_types=1);

namespace App\Jobs;

use App\Models\Export;
use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;
use Illuminate\Support\Facades\DB;
use YbbExport\ClientInterface;

/**
 * Sends the participants to YBB (the slow part, in a queue worker, not in the page request) and
 * returns as soon as the export is queued there: uploadInBatches() never waits for the export.
 * Then FetchExport follows it (polling), unless the webhook comes first.
 */
class StartParticipantExport implements ShouldQueue
{
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;
    use SerializesModels;

    public int $tries = 3;
    public int $backoff = 60;

    public function __construct(public Export $export)
    {
    }

    /** ClientInterface is injected: YbbExport::fake() replaces it in tests. */
    public function handle(ClientInterface $ybb): void
    {
        if ($this->export->ybb_id !== null) {
            return;  // already sent
        }
        // A lazy collection reads the table 1,000 rows at a time; the client sends NDJSON batches.
        $rows = DB::table('participants')->orderBy('id')->lazy(1000)->map(static fn ($row): array => (array) $row);
        // The idempotency key ties the YBB job to this row: a retry of this job after the commit
        // gets the same YBB job back. Everything in the request comes from the row, so that a
        // retry sends the same request (another one with the same key is a 422).
        $job = $ybb->uploadInBatches($rows, 5000, $this->export->template, [
            'format' => $this->export->format,
            'filename' => 'participants-' . $this->export->created_at->format('Y-m-d'),
            'callback_url' => route('ybb.webhook'),
            'idempotency_key' => 'laravel-export-' . $this->export->id,
        ]);
        $this->export->update(['ybb_id' => $job['id'], 'state' => $job['state'], 'filename' => $job['filename']]);

        // The fallback for a webhook that does not arrive: look again in 10 s.
        FetchExport::dispatch($this->export)->delay(now()->addSeconds(10));
    }
}
