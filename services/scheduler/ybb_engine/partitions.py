"""Records on disk: the API splits a request into NDJSON partitions under the job's
directory, so large data never travels through the Dask scheduler."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import orjson


@dataclass(frozen=True)
class PartitionFile:
    path: str
    rows: int  # -1 when listed from disk without reading it
    offset: int  # index of the partition's first record in the whole export


def write_partitions(
    records: Sequence[Mapping], directory: Path, rows_per_partition: int, first_index: int = 0, offset: int = 0
) -> list[PartitionFile]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for number, start in enumerate(range(0, len(records), rows_per_partition), start=first_index):
        chunk = records[start : start + rows_per_partition]
        path = directory / f"part-{number:05d}-{offset + start:010d}.ndjson"
        with open(path, "wb") as out:
            out.write(b"".join(_dumps(r) for r in chunk))
        written.append(PartitionFile(str(path), len(chunk), offset + start))
    return written


def read_partition(path: str | Path) -> list[dict]:
    with open(path, "rb") as source:
        return [_loads(line) for line in source if line.strip()]


def list_partitions(directory: Path) -> list[PartitionFile]:
    """The partitions in order; the first record's offset is in the name: part-<index>-<offset>."""
    found = []
    for path in sorted(directory.glob("part-*.ndjson")):
        offset = int(path.stem.rsplit("-", 1)[1])
        found.append(PartitionFile(str(path), -1, offset))
    return found


def _dumps(record: Mapping) -> bytes:
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # lone surrogates: the stdlib escapes them, the engine removes them later
        return json.dumps(record).encode() + b"\n"


def _loads(line: bytes) -> dict:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)
