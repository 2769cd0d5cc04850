<?php
declare(strict_types=1);

namespace App\Commands;

use CodeIgniter\CLI\BaseCommand;
use CodeIgniter\CLI\CLI;

/**
 * `php spark ybb:poll`: one status() call for each export whose end has not been seen, and the
 * download of those that succeeded. The fallback for webhooks that cannot reach the application
 * (or got lost); run it from cron every minute. Copy to app/Commands/.
 *
 *     * * * * * cd /var/www/app && php spark ybb:poll >> writable/logs/ybb-poll.log 2>&1
 */
class PollExports extends BaseCommand
{
    protected $group = 'YBB';
    protected $name = 'ybb:poll';
    protected $description = 'Check unfinished YBB exports once and download the finished ones.';
    protected $usage = 'ybb:poll [--limit 100]';
    protected $options = ['--limit' => 'How many exports to look at (default 100)'];

    /** @param array<int|string, string|null> $params */
    public function run(array $params): int
    {
        $limit = (int) (CLI::getOption('limit') ?? 100);
        $count = service('exportTracker')->refreshUnfinished(max(1, $limit));
        CLI::write("Checked $count export(s).");
        return EXIT_SUCCESS;
    }
}
