"""Where things live under DATA_DIR. No other module joins these paths.

    DATA_DIR/jobs.sqlite3            the job store (SQLite, one host)
    DATA_DIR/jobs/<id>/input/        the records, as partition files (partitions.py)
    DATA_DIR/jobs/<id>/work/         the tasks' intermediate files
    DATA_DIR/jobs/<id>/file/<name>   the finished file, streamed by Nginx (X-Accel-Redirect)
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataLayout:
    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def sqlite_path(self) -> Path:
        return self.root / "jobs.sqlite3"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def input_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "input"

    def work_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "work"

    def file_path(self, job_id: str, filename: str) -> Path:
        return self.job_dir(job_id) / "file" / filename

    def relative(self, path: Path) -> str:
        """`path` relative to DATA_DIR, as Nginx's internal location aliases it."""
        return path.relative_to(self.root).as_posix()

    def remove_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def remove_intermediates(self, job_id: str) -> None:
        """After success only the file stays."""
        shutil.rmtree(self.input_dir(job_id), ignore_errors=True)
        shutil.rmtree(self.work_dir(job_id), ignore_errors=True)
