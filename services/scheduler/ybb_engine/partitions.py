"""Records on disk: the service splits a request (or an uploaded batch) into partitions under
the job's input directory (`part-<index>-<rows>.json`, a JSON array each), so large data never
travels through the Dask scheduler. One orjson call per slice of records: serialising record by
record costs five times more.

Each file is written atomically (a temporary name, then a rename), so a partition either is
whole or is not there. A partition's row offset in the export is not in its name: batches are
written concurrently, and a failed one leaves a gap in the indexes, so `list_partitions` adds
the row counts up in index order when the upload is committed.

`PartitionWriter` writes records as they arrive (the API parses a request body as a stream
and hands it slices of records, issue 17): it appends each slice to the open partition and
renames it into place once it holds `rows_per_partition` rows, so neither the body nor all of
its records are ever in memory at once. It hashes what it writes: `digest` is the SHA-256 of
the records as one JSON array, the same as `records_digest` of the whole list, whatever the
slices and the partition size. `StagedRecords` is such a writer for one request, with what the
service needs besides the files: the row count and a sample of the first rows.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from .errors import EngineError


@dataclass(frozen=True)
class PartitionFile:
    path: str
    rows: int
    offset: int  # index of the partition's first record in the whole export


def partition_name(index: int, rows: int) -> str:
    return f"part-{index:05d}-{rows:07d}.json"


class PartitionWriter:
    """Writes records, slice by slice, as partitions numbered from `first_index` in `directory`
    (which must exist). `close` renames the last, partly filled one into place; `discard`
    removes every file it wrote."""

    def __init__(self, directory: Path, rows_per_partition: int, first_index: int = 0, offset: int = 0) -> None:
        self.directory = directory
        self.rows_per_partition = max(1, rows_per_partition)
        self.written: list[PartitionFile] = []
        self.rows = 0
        self._index = first_index
        self._offset = offset
        self._file: IO[bytes] | None = None
        self._tmp: Path | None = None
        self._open_rows = 0
        self._hash = hashlib.sha256(b"[")
        self._hashed_any = False

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        start = 0
        while start < len(records):
            if self._file is None:
                self._open()
            take = min(len(records) - start, self.rows_per_partition - self._open_rows)
            data = _dumps(records[start : start + take])
            with memoryview(data) as view:
                items = view[1:-1]  # without the array's brackets: the partition's and the digest's own
                assert self._file is not None
                if self._open_rows:
                    self._file.write(b",")
                self._file.write(items)
                if self._hashed_any:
                    self._hash.update(b",")
                self._hash.update(items)
            self._hashed_any = True
            self._open_rows += take
            self.rows += take
            start += take
            if self._open_rows == self.rows_per_partition:
                self._finish_partition()

    def close(self) -> list[PartitionFile]:
        if self._file is not None:
            self._finish_partition()
        return self.written

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
        for part in self.written:
            Path(part.path).unlink(missing_ok=True)
        self.written = []

    @property
    def digest(self) -> str:
        """SHA-256 of the records written so far, as one compact JSON array."""
        final = self._hash.copy()
        final.update(b"]")
        return final.hexdigest()

    def _open(self) -> None:
        self._tmp = self.directory / f".part-{self._index:05d}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        self._file = open(self._tmp, "wb")  # noqa: SIM115  closed by _finish_partition or discard
        self._file.write(b"[")

    def _finish_partition(self) -> None:
        assert self._file is not None and self._tmp is not None
        try:
            self._file.write(b"]")
            self._file.close()
            path = self.directory / partition_name(self._index, self._open_rows)
            os.replace(self._tmp, path)
        finally:
            self._file = None
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
        self.written.append(PartitionFile(str(path), self._open_rows, self._offset))
        self._offset += self._open_rows
        self._index += 1
        self._open_rows = 0


def write_partitions(
    records: Sequence[Mapping[str, Any]], directory: Path, rows_per_partition: int, first_index: int = 0,
    offset: int = 0,
) -> list[PartitionFile]:
    """Write `records` as partitions numbered from `first_index`; on an error, none of them stays."""
    directory.mkdir(parents=True, exist_ok=True)
    writer = PartitionWriter(directory, rows_per_partition, first_index, offset)
    try:
        writer.write(records)
        return writer.close()
    except BaseException:
        writer.discard()
        raise


def records_digest(records: Sequence[Mapping[str, Any]]) -> str:
    """What `PartitionWriter.digest` gives for these records."""
    return hashlib.sha256(_dumps(records)).hexdigest()


class StagedRecords:
    """The records of one request, written as partitions while the request body is read.

    The files go to `directory`: the job's input directory for a create request (whose job id
    is chosen before the body is read), a folder of its own inside it for an upload batch
    (the service renames them to the batch's indexes once it has reserved them). Past
    `max_rows`, or after a record that is not an object (`not_object`: its index), nothing more
    is written (the request is refused once its body has been read, so that broken JSON
    further on is still a 400), but the rows are still counted. `sample` keeps the first
    `sample_rows` records (column inference). `discard` removes `folder` (default: `directory`)
    unless `adopt` has handed the files to a job."""

    def __init__(self, directory: Path, rows_per_partition: int, max_rows: int, sample_rows: int = 0,
                 job_id: str | None = None, folder: Path | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.folder = folder or directory
        self.job_id = job_id
        self.adopted = False
        self.not_object: int | None = None
        self.max_rows = max_rows
        self.sample_rows = sample_rows
        self.sample: list[Mapping[str, Any]] = []
        self.rows = 0
        self.partitions: list[PartitionFile] = []
        self._writer: PartitionWriter | None = PartitionWriter(directory, rows_per_partition)

    def add(self, records: Sequence[Any]) -> None:
        if self.not_object is None:
            for index, record in enumerate(records):
                if not isinstance(record, dict):
                    self.not_object = self.rows + index
                    break
        if len(self.sample) < self.sample_rows:
            self.sample.extend(records[: self.sample_rows - len(self.sample)])
        self.rows += len(records)
        if self._writer is None:
            return
        if self.rows > self.max_rows or self.not_object is not None:  # to be refused: free the disk now
            self._writer.discard()
            self._writer = None
            return
        try:
            self._writer.write(records)
        except OSError as exc:  # e.g. the disk is full: none of the request's records stay
            raise self._storage_error() from exc

    def finish(self) -> StagedRecords:
        """Close the last partition once the body has been read."""
        if self._writer is not None:
            try:
                self.partitions = list(self._writer.close())
            except OSError as exc:
                raise self._storage_error() from exc
        return self

    def _storage_error(self) -> EngineError:
        self.discard()
        message = ("The records could not be stored; send the request again later." if self.job_id
                   else "The batch could not be stored; send it again later.")
        return EngineError("storage_unavailable", message, status=503, headers={"Retry-After": "30"})

    def adopt(self, directory: Path, first_index: int = 0) -> list[PartitionFile]:
        """Hand the partitions to a job: they become `directory`'s, numbered from `first_index`
        (renamed unless they are there already). On an error none of them is left there."""
        self.finish()
        if directory == self.directory and first_index == 0:
            self.adopted = True
            return self.partitions
        directory.mkdir(parents=True, exist_ok=True)
        moved: list[PartitionFile] = []
        try:
            for number, part in enumerate(self.partitions, start=first_index):
                target = directory / partition_name(number, part.rows)
                os.rename(part.path, target)
                moved.append(PartitionFile(str(target), part.rows, part.offset))
        except BaseException:
            for part in moved:
                Path(part.path).unlink(missing_ok=True)
            raise
        self.adopted = True
        self.partitions = moved
        shutil.rmtree(self.folder, ignore_errors=True)
        return moved

    @property
    def digest(self) -> str:
        return self._writer.digest if self._writer is not None else ""

    def discard(self) -> None:
        """Remove every file and `folder`, unless a job has adopted them. Idempotent."""
        if self.adopted:
            return
        if self._writer is not None:
            self._writer.discard()
        self.partitions = []
        shutil.rmtree(self.folder, ignore_errors=True)

    def __len__(self) -> int:
        return self.rows

    def __repr__(self) -> str:
        return f"<StagedRecords {self.rows} rows in {len(self.partitions)} partitions at {self.directory}>"


def read_partition(path: str | Path) -> list[dict[str, Any]]:
    """A partition: a JSON array, or NDJSON (one record per line)."""
    data = Path(path).read_bytes()
    if data.lstrip()[:1] == b"[":
        return _loads(data)
    return [_loads(line) for line in data.splitlines() if line.strip()]


def list_partitions(directory: Path) -> list[PartitionFile]:
    """The partitions in index order, with their offsets: the row counts of those before."""
    found, offset = [], 0
    for path in sorted(directory.glob("part-*.json")):
        rows = int(path.stem.rsplit("-", 1)[1])
        found.append(PartitionFile(str(path), rows, offset))
        offset += rows
    return found


def _dumps(records: Sequence[Mapping[str, Any]]) -> bytes:
    try:
        return orjson.dumps(records)
    except TypeError:  # lone surrogates or integers past 64 bits: the stdlib for those records only
        return b"[" + b",".join(_dump_one(record) for record in records) + b"]"


def _dump_one(record: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError:  # the stdlib escapes lone surrogates (the engine removes them later)
        pass
    try:  # also where orjson's 254 levels are too few for a record (up to the parser's 1,024)
        return json.dumps(record, separators=(",", ":")).encode()
    except RecursionError:  # was a 500
        raise EngineError("invalid_json", "A record is nested too deeply to be stored.", status=400) from None


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
