<?php
declare(strict_types=1);

namespace YbbExport\Laravel\Facades;

use Illuminate\Support\Facades\Facade;

/**
 * @method static \YbbExport\ExportResult export(string $template, iterable $records, array $options = [])
 * @method static array submit(string $template, array $records, array $options = [])
 * @method static array uploadInBatches(iterable $records, int $batchSize = 5000, string $template = '', array $options = [])
 * @method static array status(string $id)
 * @method static array wait(string $id, ?float $timeout = null)
 * @method static string download(string $id, string $path)
 * @method static array cancel(string $id)
 * @method static array verifyWebhook(string $payload, ?string $signatureHeader, string $secret, int $tolerance = 300)
 *
 * @see \YbbExport\Client
 */
class YbbExport extends Facade
{
    protected static function getFacadeAccessor(): string
    {
        return 'ybb-export';
    }
}
