<?php
declare(strict_types=1);

namespace App\Controllers;

use App\Models\ExportModel;
use CodeIgniter\HTTP\ResponseInterface;
use YbbExport\Exception\WebhookVerificationException;

/**
 * Example controller for the non-blocking flow (see Libraries/ExportTracker.php): no page
 * request waits for an export. Routes (app/Config/Routes.php):
 *
 *     $routes->post('participants/exports', 'ParticipantExport::start');
 *     $routes->get('participants/exports/(:num)', 'ParticipantExport::status/$1');
 *     $routes->get('participants/exports/(:num)/file', 'ParticipantExport::download/$1');
 *     $routes->post('webhooks/ybb', 'ParticipantExport::webhook');   // exclude it from CSRF
 *
 * The page posts to start, then polls status every few seconds (its "ready" turns true) and
 * sends the user to download.
 */
class ParticipantExport extends BaseController
{
    /** Queue the export and answer at once: 202 with the URL to poll. */
    public function start(): ResponseInterface
    {
        $exports = model(ExportModel::class);
        $id = (int) $exports->insert([
            'user_id' => (int) session('user_id'),
            'template' => 'participants/standard',
            'format' => 'xlsx',
            'state' => 'pending',
        ]);
        service('queue')->push('ybb', 'ybb-start-export', ['export_id' => $id]);
        return $this->response->setStatusCode(202)
            ->setHeader('Location', url_to('ParticipantExport::status', $id))
            ->setJSON(['id' => $id, 'state' => 'pending', 'status_url' => url_to('ParticipantExport::status', $id)]);
    }

    /** The export as last seen: one database read, no call to YBB. */
    public function status(int $id): ResponseInterface
    {
        $export = $this->ownExport($id);
        if ($export === null) {
            return $this->response->setStatusCode(404)->setJSON(['message' => 'No such export.']);
        }
        return $this->response->setJSON([
            'id' => $id,
            'state' => $export['state'],
            'ready' => $export['path'] !== null,
            'error' => $export['error'],
            'download_url' => $export['path'] !== null ? url_to('ParticipantExport::download', $id) : null,
        ]);
    }

    /** The downloaded file, once the export has succeeded. */
    public function download(int $id): ResponseInterface
    {
        $export = $this->ownExport($id);
        if ($export === null || $export['path'] === null || !is_file($export['path'])) {
            return $this->response->setStatusCode(409)->setJSON(['message' => 'The file is not ready.']);
        }
        return $this->response->download($export['path'], null)->setFileName((string) $export['filename']);
    }

    /** YBB's webhook: verify the raw body, then let a queue job fetch the file; answer at once. */
    public function webhook(): ResponseInterface
    {
        try {
            $event = service('ybbExport')->verifyWebhook(
                (string) $this->request->getBody(),
                $this->request->getHeaderLine('X-YBB-Signature'),
                config('YbbExport')->webhookSecret,
            );
        } catch (WebhookVerificationException $e) {
            return $this->response->setStatusCode(400)->setBody($e->getMessage());
        }
        $export = model(ExportModel::class)->findByYbbId((string) ($event['job']['id'] ?? ''));
        if ($export !== null) {
            service('queue')->push('ybb', 'ybb-fetch-export', ['export_id' => $export['id']]);
        }
        return $this->response->setStatusCode(204);
    }

    /** @return array<string, mixed>|null the export, if it is the current user's */
    private function ownExport(int $id): ?array
    {
        $export = model(ExportModel::class)->find($id);
        return $export !== null && (int) $export['user_id'] === (int) session('user_id') ? $export : null;
    }
}
