<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use PHPUnit\Framework\TestCase;
use YbbExport\Client;

/**
 * Tests against a running service: YBB_BASE_URL, YBB_API_KEY and YBB_CA_CERT (the stack's
 * self-signed certificate). Skipped without them; tests/clients/test_php_client.py sets them.
 */
abstract class StackTestCase extends TestCase
{
    /** @var list<string> */
    private array $cleanup = [];

    protected function setUp(): void
    {
        if ((getenv('YBB_BASE_URL') ?: '') === '' || (getenv('YBB_API_KEY') ?: '') === '') {
            $this->markTestSkipped('Set YBB_BASE_URL, YBB_API_KEY and YBB_CA_CERT to run against a service');
        }
    }

    protected function tearDown(): void
    {
        foreach ($this->cleanup as $path) {
            if (is_dir($path)) {
                array_map('unlink', glob($path . '/*') ?: []);
                @rmdir($path);
            } elseif (is_file($path)) {
                @unlink($path);
            }
        }
    }

    /** @param array<string, mixed> $options */
    protected function client(array $options = []): Client
    {
        return Client::fromEnvironment($options + ['poll_interval' => 0.2, 'max_poll_interval' => 1, 'export_timeout' => 120]);
    }

    protected function tempDir(): string
    {
        $dir = sys_get_temp_dir() . '/ybb-php-test-' . bin2hex(random_bytes(6));
        mkdir($dir);
        $this->cleanup[] = $dir;
        return $dir;
    }

    /** @return list<array<string, mixed>> the five participants of examples/participants-small.json */
    protected static function smallParticipants(): array
    {
        $example = json_decode((string) file_get_contents(__DIR__ . '/../../../examples/participants-small.json'), true);
        return $example['records'];
    }

    /** @return \Generator<int, array<string, mixed>> $count participants, made one at a time */
    protected static function participants(int $count): \Generator
    {
        $countries = ['Indonesia', 'Malaysia', 'Türkiye', 'Brazil', 'Japan'];
        for ($i = 1; $i <= $count; $i++) {
            yield [
                'id' => $i,
                'full_name' => "Participant $i Ünal",
                'email' => "p$i@example.org",
                'nationality' => $countries[$i % 5],
                'institution' => 'Universitas Indonesia',
                'phone_number' => sprintf('0812%07d', $i),
                'category' => $i % 2 ? 'fully_funded' : 'self_funded',
                'form_status' => $i % 3,
                'payment_status' => $i % 5,
                'created_at' => sprintf('2024-%02d-%02d 10:30:00', 1 + $i % 12, 1 + $i % 28),
            ];
        }
    }

    /** CSV lines, without the trailing empty one. @return list<string> */
    protected static function csvLines(string $path): array
    {
        return array_values(array_filter(preg_split("/\r\n|\n/", (string) file_get_contents($path)), 'strlen'));
    }
}
