<?php
declare(strict_types=1);

namespace YbbExport\Tests;

use PHPUnit\Framework\TestCase;
use YbbExport\Exception\AuthenticationException;
use YbbExport\Exception\ClientException;
use YbbExport\Exception\ConflictException;
use YbbExport\Exception\ExpiredException;
use YbbExport\Exception\NotFoundException;
use YbbExport\Exception\PayloadTooLargeException;
use YbbExport\Exception\RateLimitedException;
use YbbExport\Exception\ServerException;
use YbbExport\Exception\ValidationException;
use YbbExport\Exception\YbbException;
use YbbExport\Http\Response;

/** The error shape -> exception mapping, from canned answers: no service needed. */
final class ResponseMappingTest extends TestCase
{
    /** @return array<string, array{0: int, 1: class-string}> */
    public static function statuses(): array
    {
        return [
            '400' => [400, ValidationException::class], '401' => [401, AuthenticationException::class],
            '403' => [403, AuthenticationException::class], '404' => [404, NotFoundException::class],
            '405' => [405, ClientException::class], '409' => [409, ConflictException::class],
            '410' => [410, ExpiredException::class], '413' => [413, PayloadTooLargeException::class],
            '415' => [415, ValidationException::class], '422' => [422, ValidationException::class],
            '429' => [429, RateLimitedException::class], '500' => [500, ServerException::class],
            '502' => [502, ServerException::class], '503' => [503, ServerException::class],
            '504' => [504, ServerException::class],
        ];
    }

    /** @dataProvider statuses */
    public function testEachStatusHasItsException(int $status, string $class): void
    {
        $body = json_encode(['code' => 'some_code', 'status' => $status, 'message' => 'Something.',
            'errors' => ['json' => ['format' => ['Bad.']]], 'request_id' => 'req-1']);
        $e = YbbException::fromResponse(new Response($status, ['retry-after' => '7'], $body));
        $this->assertInstanceOf($class, $e);
        $this->assertSame($status, $e->getStatus());
        $this->assertSame('some_code', $e->getErrorCode());
        $this->assertSame('Something.', $e->getMessage());
        $this->assertSame(['json' => ['format' => ['Bad.']]], $e->getErrors());
        $this->assertSame('req-1', $e->getRequestId());
        $this->assertSame(7, $e->getRetryAfter());
    }

    public function testANonJsonAnswerStillMaps(): void
    {
        $e = YbbException::fromResponse(new Response(502, ['x-request-id' => 'edge-9'], '<html>Bad Gateway</html>'), 'php-1');
        $this->assertInstanceOf(ServerException::class, $e);
        $this->assertSame('http_502', $e->getErrorCode());
        $this->assertSame('edge-9', $e->getRequestId());
        $this->assertSame([], $e->getErrors());
        $this->assertNull($e->getRetryAfter());
        $e = YbbException::fromResponse(new Response(500, [], ''), 'php-1');
        $this->assertSame('php-1', $e->getRequestId());
    }

    public function testRetryAfterAsAnHttpDate(): void
    {
        $response = new Response(503, ['retry-after' => gmdate('D, d M Y H:i:s \G\M\T', time() + 30)], '');
        $this->assertEqualsWithDelta(30, $response->retryAfter(), 2);
    }
}
