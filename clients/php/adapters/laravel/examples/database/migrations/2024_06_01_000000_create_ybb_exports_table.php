<?php
declare(strict_types=1);

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;

// The ybb_exports table of App\Models\Export.
return new class extends Migration
{
    public function up(): void
    {
        Schema::create('ybb_exports', static function (Blueprint $table): void {
            $table->id();
            $table->foreignId('user_id')->constrained()->cascadeOnDelete();
            $table->string('template', 100);
            $table->string('format', 10);
            $table->string('ybb_id', 64)->nullable()->unique();
            $table->string('state', 20)->default('pending');
            $table->string('filename')->nullable();
            $table->string('path', 500)->nullable();
            $table->text('error')->nullable();
            $table->timestamps();
            $table->index(['state', 'id']);
        });
    }

    public function down(): void
    {
        Schema::dropIfExists('ybb_exports');
    }
};
