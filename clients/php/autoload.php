<?php
/**
 * PSR-4 autoloader for the YbbExport namespace, for projects without Composer:
 *
 *     require __DIR__ . '/path/to/clients/php/autoload.php';
 *     $client = new YbbExport\Client(['base_url' => ..., 'api_key' => ...]);
 *
 * With Composer, use vendor/autoload.php instead (composer.json declares the same mapping).
 */
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefixes = [
        'YbbExport\\Tests\\' => __DIR__ . '/tests/',
        'YbbExport\\' => __DIR__ . '/src/',
    ];
    foreach ($prefixes as $prefix => $directory) {
        if (strncmp($class, $prefix, strlen($prefix)) === 0) {
            $file = $directory . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});
