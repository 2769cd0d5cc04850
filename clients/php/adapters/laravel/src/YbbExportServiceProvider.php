<?php
declare(strict_types=1);

namespace YbbExport\Laravel;

use Illuminate\Contracts\Foundation\Application;
use Illuminate\Support\ServiceProvider;
use YbbExport\Client;

/**
 * Registers YbbExport\Client as a singleton (also as "ybb-export", for the facade), configured
 * from config/ybb-export.php. Auto-discovered when installed with Composer (see README).
 */
class YbbExportServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->mergeConfigFrom(__DIR__ . '/../config/ybb-export.php', 'ybb-export');

        $this->app->singleton(Client::class, static function (Application $app): Client {
            $config = $app['config']->get('ybb-export');
            return new Client([
                'base_url' => $config['base_url'],
                'api_key' => $config['api_key'],
                'ca_file' => $config['ca_file'] ?: null,
                'timeout' => (int) $config['timeout'],
                'max_retries' => (int) $config['max_retries'],
            ]);
        });
        $this->app->alias(Client::class, 'ybb-export');
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
        return [Client::class, 'ybb-export'];
    }
}
