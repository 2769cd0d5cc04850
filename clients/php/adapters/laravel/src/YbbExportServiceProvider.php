<?php
declare(strict_types=1);

namespace YbbExport\Laravel;

use Illuminate\Contracts\Foundation\Application;
use Illuminate\Support\ServiceProvider;
use YbbExport\Client;
use YbbExport\ClientInterface;

/**
 * Registers the export client as a singleton under YbbExport\ClientInterface (type-hint that in
 * controllers and jobs), also reachable as YbbExport\Client and "ybb-export" (the facade),
 * configured from config/ybb-export.php. Auto-discovered when installed with Composer (see README).
 *
 * In tests, YbbExport::fake() (or $this->app->instance(ClientInterface::class, new FakeClient()))
 * puts a YbbExport\Testing\FakeClient in its place.
 */
class YbbExportServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->mergeConfigFrom(__DIR__ . '/../config/ybb-export.php', 'ybb-export');

        $this->app->singleton(ClientInterface::class, static function (Application $app): ClientInterface {
            return self::makeClient((array) $app['config']->get('ybb-export'));
        });
        $this->app->alias(ClientInterface::class, Client::class);
        $this->app->alias(ClientInterface::class, 'ybb-export');
    }

    public function boot(): void
    {
        if ($this->app->runningInConsole()) {
            $this->publishes([__DIR__ . '/../config/ybb-export.php' => config_path('ybb-export.php')], 'ybb-export-config');
        }
    }

    /** @return list<string> */
    public function provides(): array
    {
        return [ClientInterface::class, Client::class, 'ybb-export'];
    }

    /**
     * The real client, from the ybb-export configuration.
     *
     * @param array<string, mixed> $config
     */
    public static function makeClient(array $config): Client
    {
        return new Client([
            'base_url' => $config['base_url'],
            'api_key' => $config['api_key'],
            'ca_file' => ($config['ca_file'] ?? null) ?: null,
            'timeout' => (int) ($config['timeout'] ?? 130),
            'max_retries' => (int) ($config['max_retries'] ?? 3),
        ]);
    }
}
