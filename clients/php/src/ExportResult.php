<?php
declare(strict_types=1);

namespace YbbExport;

/** A finished export whose file has been downloaded to getPath(). */
final class ExportResult
{
    /** @param array<string, mixed> $job the job as the service reported it */
    public function __construct(
        private readonly array $job,
        private readonly string $path,
        private readonly int $bytes,
    ) {
    }

    public function getId(): string
    {
        return (string) $this->job['id'];
    }

    /** Where the file was saved. */
    public function getPath(): string
    {
        return $this->path;
    }

    /** The file's size in bytes (checked against the service's file_size). */
    public function getBytes(): int
    {
        return $this->bytes;
    }

    /** The file name the service gave the export, e.g. "participants-june.xlsx". */
    public function getFilename(): string
    {
        return (string) ($this->job['filename'] ?? basename($this->path));
    }

    public function getFormat(): string
    {
        return (string) ($this->job['format'] ?? '');
    }

    /** Rows in the file, after filters and dedupe. */
    public function getRows(): int
    {
        return (int) ($this->job['rows'] ?? 0);
    }

    /** @return array<string, int> values the engine changed to keep the file safe */
    public function getWarnings(): array
    {
        return is_array($this->job['warnings'] ?? null) ? $this->job['warnings'] : [];
    }

    /** The signed link to the file, usable without the API key until it expires (null if not given). */
    public function getDownloadUrl(): ?string
    {
        $url = $this->job['download_url'] ?? null;
        return is_string($url) ? $url : null;
    }

    /** @return array<string, mixed> */
    public function getJob(): array
    {
        return $this->job;
    }
}
