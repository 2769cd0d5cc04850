<?php
declare(strict_types=1);

namespace App\Controllers;

use CodeIgniter\HTTP\ResponseInterface;
use YbbExport\Exception\ValidationException;
use YbbExport\Exception\YbbException;
use YbbExport\Webhook;

/**
 * Example controller. Routes (app/Config/Routes.php):
 *
 *     $routes->get('participants/export', 'ParticipantExport::download');
 *     $routes->post('webhooks/ybb', 'ParticipantExport::webhook');
 */
class ParticipantExport extends BaseController
{
    public function download(): ResponseInterface
    {
        $db = db_connect();
        // getUnbufferedRow() reads one row at a time: 50,000 participants never sit in PHP memory.
        $query = $db->query('SELECT id, full_name, email, nationality, institution, phone_number, category,
                                    form_status, payment_status, created_at FROM participants');
        $rows = (static function () use ($query) {
            while ($row = $query->getUnbufferedRow('array')) {
                yield $row;
            }
        })();

        try {
            $result = service('ybbExport')->export('participants/standard', $rows, [
                'format' => 'xlsx',
                'filename' => 'participants-' . date('Y-m-d'),
                'path' => WRITEPATH . 'uploads',
            ]);
        } catch (ValidationException $e) {
            return $this->response->setStatusCode(422)->setJSON(['message' => $e->getMessage(), 'errors' => $e->getErrors()]);
        } catch (YbbException $e) {
            log_message('error', 'YBB export failed: {msg} (request {id})', ['msg' => $e->getMessage(), 'id' => $e->getRequestId()]);
            return $this->response->setStatusCode(502)->setBody('The export service failed; request id ' . $e->getRequestId());
        }
        return $this->response->download($result->getPath(), null)->setFileName($result->getFilename());
    }

    public function webhook(): ResponseInterface
    {
        try {
            $event = Webhook::verify(
                (string) $this->request->getBody(),
                $this->request->getHeaderLine(Webhook::HEADER),
                config('YbbExport')->webhookSecret,
            );
        } catch (YbbException $e) {
            return $this->response->setStatusCode(400)->setBody($e->getMessage());
        }
        log_message('info', 'YBB export {id}: {event}', ['id' => $event['job']['id'], 'event' => $event['event']]);
        return $this->response->setStatusCode(204);
    }
}
