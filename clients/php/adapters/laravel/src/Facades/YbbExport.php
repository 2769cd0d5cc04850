<?php
declare(strict_types=1);

namespace YbbExport\Laravel\Facades;

use Illuminate\Support\Facades\Facade;
use YbbExport\ClientInterface;
use YbbExport\Testing\FakeClient;

/**
 * @method static \YbbExport\ExportResult export(string $template, iterable $records, array $options = [])
 * @method static array submit(string $template, array $records, array $options = [])
 * @method static array uploadInBatches(iterable $records, int $batchSize = 5000, string $template = '', array $options = [])
 * @method static array createUpload(string $template, array $options = [])
 * @method static array uploadBatch(string $id, iterable $records)
 * @method static array uploadFile(string $id, string $path, string $contentType = 'application/x-ndjson')
 * @method static array commit(string $id)
 * @method static array status(string $id)
 * @method static array wait(string $id, ?float $timeout = null)
 * @method static string download(string $id, string $path)
 * @method static string downloadUrl(string $url, string $path)
 * @method static array cancel(string $id)
 * @method static array exports(int $page = 1, int $pageSize = 20)
 * @method static array templates()
 * @method static array verifyWebhook(string $payload, ?string $signatureHeader, string $secret, int $tolerance = 300)
 * @method static ?string getLastRequestId()
 *
 * @see \YbbExport\ClientInterface
 */
class YbbExport extends Facade
{
    /**
     * Replace the client with a YbbExport\Testing\FakeClient, for the facade and for everything
     * that type-hints YbbExport\ClientInterface, and return it for assertions:
     *
     *     $ybb = YbbExport::fake();
     *     $this->post('/participants/export')->assertAccepted();
     *     $ybb->assertSubmitted(fn (string $template) => $template === 'participants/standard');
     *
     * @param array<string, mixed> $options FakeClient options (state, file_contents, templates)
     */
    public static function fake(array $options = []): FakeClient
    {
        $fake = new FakeClient($options);
        static::swap($fake);
        if (isset(static::$app)) {
            static::$app->instance(ClientInterface::class, $fake);
        }
        return $fake;
    }

    protected static function getFacadeAccessor(): string
    {
        return 'ybb-export';
    }
}
