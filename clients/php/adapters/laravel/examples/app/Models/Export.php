<?php
declare(strict_types=1);

namespace App\Models;

use Illuminate\Database\Eloquent\Model;

/**
 * One export a user asked for (table ybb_exports): its YBB job id, its state as last seen, and
 * the downloaded file once it is there.
 *
 * @property int $id
 * @property int $user_id
 * @property string $template
 * @property string $format
 * @property string|null $ybb_id
 * @property string $state pending (not yet sent), then the YBB job's state
 * @property string|null $filename
 * @property string|null $path the downloaded file, relative to the local disk
 * @property string|null $error
 */
class Export extends Model
{
    /** States after which nothing changes any more. */
    public const ENDED = ['succeeded', 'failed', 'cancelled', 'expired'];

    protected $table = 'ybb_exports';

    /** @var list<string> */
    protected $fillable = ['user_id', 'template', 'format', 'ybb_id', 'state', 'filename', 'path', 'error'];

    /** The file has been downloaded and can be sent to the user. */
    public function isReady(): bool
    {
        return $this->path !== null;
    }

    /** Nothing more will happen: downloaded, or ended without a file. */
    public function isDone(): bool
    {
        return $this->isReady() || in_array($this->state, ['failed', 'cancelled', 'expired'], true);
    }
}
