"""Where things live under DATA_DIR. No other module joins these paths.

    DATA_DIR/jobs.sqlite3            the job store (SQLite, one host; not used with JOB_STORE_URL)
    DATA_DIR/jobs/<id>/input/        the records, as partition files (partitions.py)
    DATA_DIR/jobs/<id>/work/         the tasks' intermediate files
    DATA_DIR/jobs/<id>/file/<name>   the finished file, streamed by Nginx (X-Accel-Redirect)
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
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

    def job_folders(self) -> Iterator[tuple[str, float]]:
        """(job id, last change) of every job folder: the newest mtime of the folder and of
        its direct entries (input/ changes as partitions arrive). Symlinks and files are skipped."""
        try:
            entries = list(os.scandir(self.jobs_dir))
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                modified = entry.stat(follow_symlinks=False).st_mtime
                with os.scandir(entry.path) as children:
                    for child in children:
                        modified = max(modified, child.stat(follow_symlinks=False).st_mtime)
            except FileNotFoundError:
                continue  # removed meanwhile
            yield entry.name, modified

    def last_change(self, job_id: str) -> float | None:
        """The newest mtime anywhere in the job's folder (None: no folder). Walks the whole
        tree: for the few folders `job_folders` found old, before removing one."""
        newest: float | None = None
        for directory, _dirs, files in os.walk(self.job_dir(job_id)):
            for path in (directory, *(os.path.join(directory, name) for name in files)):
                try:
                    modified = os.lstat(path).st_mtime
                except FileNotFoundError:
                    continue
                newest = modified if newest is None else max(newest, modified)
        return newest

    def remove_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def remove_intermediates(self, job_id: str) -> None:
        """After success only the file stays."""
        shutil.rmtree(self.input_dir(job_id), ignore_errors=True)
        shutil.rmtree(self.work_dir(job_id), ignore_errors=True)
