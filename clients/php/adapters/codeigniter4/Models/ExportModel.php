<?php
declare(strict_types=1);

namespace App\Models;

use CodeIgniter\Model;

/**
 * One export a user asked for (table ybb_exports, see Database/Migrations): its YBB job id, its
 * state as last seen, and the downloaded file once it is there. Copy to app/Models/.
 *
 * state: pending (not yet sent to YBB), then the YBB job's state (queued, running, succeeded,
 * failed, cancelled, expired); path is set once the file has been downloaded.
 */
class ExportModel extends Model
{
    protected $table = 'ybb_exports';
    protected $primaryKey = 'id';
    protected $returnType = 'array';
    protected $useTimestamps = true;
    protected $allowedFields = ['user_id', 'template', 'format', 'ybb_id', 'state', 'filename', 'path', 'error'];

    /** States after which nothing changes any more. */
    public const ENDED = ['succeeded', 'failed', 'cancelled', 'expired'];

    /** @return array<string, mixed>|null */
    public function findByYbbId(string $ybbId): ?array
    {
        return $this->where('ybb_id', $ybbId)->first();
    }

    /**
     * Exports sent to YBB whose end (or file) has not arrived yet, oldest first.
     *
     * @return list<array<string, mixed>>
     */
    public function unfinished(int $limit = 100): array
    {
        return $this->groupStart()
                ->whereNotIn('state', self::ENDED)
                ->orGroupStart()->where('state', 'succeeded')->where('path', null)->groupEnd()
            ->groupEnd()
            ->where('ybb_id IS NOT NULL')
            ->orderBy('id')
            ->findAll($limit);
    }
}
