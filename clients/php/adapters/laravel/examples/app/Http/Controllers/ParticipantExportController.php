<?php
declare(strict_types=1);

namespace App\Http\Controllers;

use App\Jobs\FetchExport;
use App\Jobs\StartParticipantExport;
use App\Models\Export;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use Illuminate\Support\Facades\Storage;
use Symfony\Component\HttpFoundation\StreamedResponse;
use YbbExport\ClientInterface;
use YbbExport\Exception\WebhookVerificationException;

/**
 * The non-blocking export flow: no page request waits for an export.
 *
 *  1. store(): a row and a queued StartParticipantExport job; 202 with the URL to poll.
 *  2. StartParticipantExport uploads the rows in batches and returns once YBB has queued the export.
 *  3. webhook() (YBB calls it when the export ends) or FetchExport's polling downloads the file.
 *  4. The page polls show() every few seconds and sends the user to download() once ready.
 *
 * Routes (routes/web.php; exclude the webhook from CSRF protection):
 *
 *     Route::middleware('auth')->group(function () {
 *         Route::post('/participants/exports', [ParticipantExportController::class, 'store']);
 *         Route::get('/participants/exports/{export}', [ParticipantExportController::class, 'show'])->name('exports.show');
 *         Route::get('/participants/exports/{export}/file', [ParticipantExportController::class, 'download'])->name('exports.download');
 *     });
 *     Route::post('/webhooks/ybb', [ParticipantExportController::class, 'webhook'])->name('ybb.webhook');
 */
class ParticipantExportController extends Controller
{
    /** Queue the export and answer at once. */
    public function store(Request $request): JsonResponse
    {
        $export = Export::create([
            'user_id' => $request->user()->id,
            'template' => 'participants/standard',
            'format' => 'xlsx',
            'state' => 'pending',
        ]);
        StartParticipantExport::dispatch($export);
        $url = route('exports.show', $export);
        return response()->json(
            ['id' => $export->id, 'state' => 'pending', 'status_url' => $url],
            202,
            ['Location' => $url],
        );
    }

    /** The export as last seen: a database read, no call to YBB. */
    public function show(Request $request, Export $export): JsonResponse
    {
        abort_unless($export->user_id === $request->user()->id, 404);
        return response()->json([
            'id' => $export->id,
            'state' => $export->state,
            'ready' => $export->isReady(),
            'error' => $export->error,
            'download_url' => $export->isReady() ? route('exports.download', $export) : null,
        ]);
    }

    /** The downloaded file, once ready. */
    public function download(Request $request, Export $export): StreamedResponse
    {
        abort_unless($export->user_id === $request->user()->id, 404);
        abort_unless($export->isReady(), 409, 'The file is not ready.');
        return Storage::disk('local')->download((string) $export->path, $export->filename);
    }

    /** YBB's webhook: verify the raw body, queue the download, answer at once. */
    public function webhook(Request $request, ClientInterface $ybb): Response
    {
        try {
            $event = $ybb->verifyWebhook(
                $request->getContent(),
                $request->header('X-YBB-Signature'),
                (string) config('ybb-export.webhook_secret'),
            );
        } catch (WebhookVerificationException $e) {
            abort(400, $e->getMessage());
        }
        $export = Export::where('ybb_id', $event['job']['id'] ?? '')->first();
        if ($export !== null) {
            FetchExport::dispatch($export);
        }
        return response()->noContent();
    }
}
