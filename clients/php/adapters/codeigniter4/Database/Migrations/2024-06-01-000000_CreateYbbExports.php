<?php
declare(strict_types=1);

namespace App\Database\Migrations;

use CodeIgniter\Database\Migration;

/** The ybb_exports table of Models/ExportModel.php. Copy to app/Database/Migrations/, then `php spark migrate`. */
class CreateYbbExports extends Migration
{
    public function up(): void
    {
        $this->forge->addField([
            'id' => ['type' => 'INT', 'unsigned' => true, 'auto_increment' => true],
            'user_id' => ['type' => 'INT', 'unsigned' => true],
            'template' => ['type' => 'VARCHAR', 'constraint' => 100],
            'format' => ['type' => 'VARCHAR', 'constraint' => 10],
            'ybb_id' => ['type' => 'VARCHAR', 'constraint' => 64, 'null' => true],
            'state' => ['type' => 'VARCHAR', 'constraint' => 20, 'default' => 'pending'],
            'filename' => ['type' => 'VARCHAR', 'constraint' => 255, 'null' => true],
            'path' => ['type' => 'VARCHAR', 'constraint' => 500, 'null' => true],
            'error' => ['type' => 'TEXT', 'null' => true],
            'created_at' => ['type' => 'DATETIME', 'null' => true],
            'updated_at' => ['type' => 'DATETIME', 'null' => true],
        ]);
        $this->forge->addPrimaryKey('id');
        $this->forge->addUniqueKey('ybb_id');
        $this->forge->addKey(['state', 'id']);
        $this->forge->createTable('ybb_exports');
    }

    public function down(): void
    {
        $this->forge->dropTable('ybb_exports');
    }
}
