<?php
declare(strict_types=1);

namespace Tests\Feature;

use App\Jobs\FetchExport;
use App\Jobs\StartParticipantExport;
use App\Models\Export;
use App\Models\User;
use Illuminate\Foundation\Testing\RefreshDatabase;
use Illuminate\Support\Facades\Queue;
use Illuminate\Support\Facades\Storage;
use Tests\TestCase;
use YbbExport\Laravel\Facades\YbbExport;

/** The application's own tests of the flow, with the client's fake: no YBB service needed. */
class ParticipantExportTest extends TestCase
{
    use RefreshDatabase;

    public function testStartingAnExportAnswersAtOnceAndQueuesTheUpload(): void
    {
        Queue::fake();
        $user = User::factory()->create();

        $this->actingAs($user)->postJson('/participants/exports')
            ->assertStatus(202)
            ->assertJsonPath('state', 'pending');

        Queue::assertPushed(StartParticipantExport::class);
    }

    public function testTheQueuedJobsUploadThenDownload(): void
    {
        Storage::fake('local');
        Queue::fake([FetchExport::class]);                 // run it by hand below
        $ybb = YbbExport::fake(['state' => 'queued']);   // every ClientInterface is now the fake
        $export = Export::create(['user_id' => User::factory()->create()->id, 'template' => 'participants/standard',
            'format' => 'xlsx', 'state' => 'pending']);

        (new StartParticipantExport($export))->handle($ybb);
        $ybb->assertSubmitted(fn (string $template, array $records, array $options) =>
            $template === 'participants/standard'
            && $options['format'] === 'xlsx'
            && $options['callback_url'] === route('ybb.webhook'));
        $ybb->assertCalled('uploadInBatches', fn ($rows, int $batchSize, string $template, array $options)
            => $options['idempotency_key'] === 'laravel-export-' . $export->id);
        $this->assertSame('queued', $export->fresh()->state);
        Queue::assertPushed(FetchExport::class);

        (new FetchExport($export))->handle($ybb);                // still queued: nothing downloaded
        $this->assertFalse($export->fresh()->isReady());
        $ybb->assertNotCalled('download');

        $ybb->finish($export->fresh()->ybb_id);                 // YBB finishes the export
        (new FetchExport($export))->handle($ybb);
        $this->assertTrue($export->fresh()->isReady());
        Storage::disk('local')->assertExists($export->fresh()->path);
    }

    public function testTheWebhookQueuesTheDownload(): void
    {
        Queue::fake();
        config(['ybb-export.webhook_secret' => 'whsec-test']);
        $ybb = YbbExport::fake();
        $job = $ybb->submit('participants/standard', [['id' => 1]]);
        Export::create(['user_id' => User::factory()->create()->id, 'template' => 'participants/standard',
            'format' => 'xlsx', 'state' => 'queued', 'ybb_id' => $job['id']]);

        $webhook = $ybb->webhook($job['id'], 'whsec-test');
        $this->call('POST', '/webhooks/ybb', [], [], [], ['HTTP_X_YBB_SIGNATURE' => $webhook['signature'],
            'CONTENT_TYPE' => 'application/json'], $webhook['payload'])->assertNoContent();

        Queue::assertPushed(FetchExport::class);
    }
}
