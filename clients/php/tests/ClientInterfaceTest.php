<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use PHPUnit\Framework\TestCase;
use YbbExport\Client;
use YbbExport\ClientInterface;
use YbbExport\Testing\FakeClient;

/** Client and FakeClient offer the same methods, and the client refuses unsafe headers: no service needed. */
final class ClientInterfaceTest extends TestCase
{
    /** @return list<string> */
    private static function publicMethods(string $class): array
    {
        $names = [];
        foreach ((new \ReflectionClass($class))->getMethods(\ReflectionMethod::IS_PUBLIC) as $method) {
            if (!$method->isStatic() && !$method->isConstructor() && !$method->isDestructor()) {
                $names[] = $method->getName();
            }
        }
        sort($names);
        return $names;
    }

    public function testEveryPublicMethodOfClientIsInTheInterface(): void
    {
        $this->assertTrue(is_subclass_of(Client::class, ClientInterface::class));
        $this->assertTrue(is_subclass_of(FakeClient::class, ClientInterface::class));
        $this->assertSame(self::publicMethods(Client::class), self::publicMethods(ClientInterface::class));
    }

    /** @return array<string, array{0: mixed}> */
    public static function badKeys(): array
    {
        return [
            'a newline' => ["key\r\nX-Injected: 1"], 'empty' => [''], 'too long' => [str_repeat('k', 201)],
            'non-ASCII' => ['clé'], 'a trailing space' => ['key '], 'not a string' => [['k']],
        ];
    }

    /** @dataProvider badKeys */
    public function testABadIdempotencyKeyIsRefusedBeforeAnyRequest(mixed $key): void
    {
        // Port 9 (discard) on the loopback: nothing is sent, the key is checked first.
        $client = new Client(['base_url' => 'http://127.0.0.1:9', 'api_key' => 'test', 'max_retries' => 0]);
        $this->expectException(\InvalidArgumentException::class);
        $client->submit('participants/standard', [['id' => 1]], ['idempotency_key' => $key]);
    }

    public function testAHeaderWithALineBreakIsRefused(): void
    {
        $client = new Client(['base_url' => 'http://127.0.0.1:9', 'api_key' => 'test', 'max_retries' => 0]);
        $this->expectException(\InvalidArgumentException::class);
        $client->request('GET', '/health', ['headers' => ["X-Test: a\r\nX-Injected: 1"]]);
    }
}
