"""Records on disk: the service splits a request (or an uploaded batch) into partitions under
the job's input directory (`part-<index>-<rows>.json`, a JSON array each), so large data never
travels through the Dask scheduler. One orjson call per partition: serialising record by
record costs five times more.

Each file is written atomically (a temporary name, then a rename), so a partition either is
whole or is not there. A partition's row offset in the export is not in its name: batches are
written concurrently, and a failed one leaves a gap in the indexes, so `list_partitions` adds
the row counts up in index order when the upload is committed.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True)
class PartitionFile:
    path: str
    rows: int
    offset: int  # index of the partition's first record in the whole export


def write_partitions(
    records: Sequence[Mapping[str, Any]], directory: Path, rows_per_partition: int, first_index: int = 0,
    offset: int = 0,
) -> list[PartitionFile]:
    """Write `records` as partitions numbered from `first_index`; on an error, none of them stays."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[PartitionFile] = []
    try:
        for number, start in enumerate(range(0, len(records), rows_per_partition), start=first_index):
            chunk = records[start : start + rows_per_partition]
            path = directory / f"part-{number:05d}-{len(chunk):07d}.json"
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                tmp.write_bytes(_dumps(chunk))
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            written.append(PartitionFile(str(path), len(chunk), offset + start))
    except BaseException:
        for part in written:
            Path(part.path).unlink(missing_ok=True)
        raise
    return written


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
    except TypeError:  # lone surrogates: the stdlib escapes them, the engine removes them later
        return json.dumps(list(records)).encode()


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
