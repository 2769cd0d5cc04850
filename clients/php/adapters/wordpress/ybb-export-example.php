<?php
/**
 * Plugin Name: YBB Export (example)
 * Description: Exports participants through the YBB Data Management Service. An example: adapt the query and the capability.
 * Version: 1.0.0
 * Requires PHP: 8.1
 *
 * Settings (wp-config.php):
 *     define('YBB_EXPORT_BASE_URL', 'https://exports.example.org');
 *     define('YBB_EXPORT_API_KEY', 'ybb_...');
 *     define('YBB_EXPORT_CA_FILE', '');          // only for a self-signed certificate
 *     define('YBB_EXPORT_WEBHOOK_SECRET', '...');
 */
declare(strict_types=1);

if (!defined('ABSPATH')) {
    exit;
}

// The client, copied next to this file (wp-content/plugins/ybb-export/ybb-export-client/).
require_once __DIR__ . '/ybb-export-client/autoload.php';

function ybb_export_client(): YbbExport\Client
{
    static $client = null;
    return $client ??= new YbbExport\Client([
        'base_url' => YBB_EXPORT_BASE_URL,
        'api_key' => YBB_EXPORT_API_KEY,
        'ca_file' => defined('YBB_EXPORT_CA_FILE') && YBB_EXPORT_CA_FILE !== '' ? YBB_EXPORT_CA_FILE : null,
    ]);
}

/** Rows one page at a time, so that PHP never holds the whole table. */
function ybb_export_participant_rows(): Generator
{
    global $wpdb;
    $table = $wpdb->prefix . 'participants';
    for ($offset = 0; ; $offset += 1000) {
        $rows = $wpdb->get_results($wpdb->prepare("SELECT * FROM {$table} ORDER BY id LIMIT 1000 OFFSET %d", $offset), ARRAY_A);
        if (!$rows) {
            return;
        }
        yield from $rows;
    }
}

// admin-post.php?action=ybb_export_participants (link it from an admin page, with a nonce).
add_action('admin_post_ybb_export_participants', static function (): void {
    if (!current_user_can('manage_options') || !check_admin_referer('ybb_export_participants')) {
        wp_die('Not allowed', 403);
    }
    try {
        $result = ybb_export_client()->export('participants/standard', ybb_export_participant_rows(), [
            'format' => 'xlsx',
            'filename' => 'participants-' . gmdate('Y-m-d'),
            'path' => get_temp_dir(),
        ]);
    } catch (YbbExport\Exception\YbbException $e) {
        wp_die(esc_html('Export failed: ' . $e->getMessage() . ' (request ' . $e->getRequestId() . ')'), 502);
    }
    nocache_headers();
    header('Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    header('Content-Disposition: attachment; filename="' . $result->getFilename() . '"');
    header('Content-Length: ' . $result->getBytes());
    readfile($result->getPath());
    unlink($result->getPath());
    exit;
});

// Webhook receiver: POST /wp-json/ybb-export/v1/webhook (give it as callback_url).
add_action('rest_api_init', static function (): void {
    register_rest_route('ybb-export/v1', '/webhook', [
        'methods' => 'POST',
        'permission_callback' => '__return_true',  // the signature is the authentication
        'callback' => static function (WP_REST_Request $request) {
            try {
                $event = YbbExport\Webhook::verify(
                    $request->get_body(),
                    $request->get_header('x_ybb_signature'),
                    YBB_EXPORT_WEBHOOK_SECRET,
                );
            } catch (YbbExport\Exception\WebhookVerificationException $e) {
                return new WP_Error('invalid_signature', $e->getMessage(), ['status' => 400]);
            }
            update_option('ybb_export_last_event', ['event' => $event['event'], 'id' => $event['job']['id']], false);
            return new WP_REST_Response(null, 204);
        },
    ]);
});
