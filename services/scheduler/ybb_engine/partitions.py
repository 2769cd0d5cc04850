"""Records on disk: the API splits a request into NDJSON partitions under the job's
directory, so large data never travels through the Dask scheduler."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import orjson


@dataclass(frozen=True)
class PartitionFile:
    path: str
    rows: int
    offset: int  # index of the partition's first record in the whole export


def write_partitions(
    records: Sequence[Mapping], directory: Path, rows_per_partition: int, first_index: int = 0, offset: int = 0
) -> list[PartitionFile]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for number, start in enumerate(range(0, len(records), rows_per_partition), start=first_index):
        chunk = records[start : start + rows_per_partition]
        path = directory / f"part-{number:05d}.ndjson"
        with open(path, "wb") as out:
            out.write(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in chunk))
        written.append(PartitionFile(str(path), len(chunk), offset + start))
    return written


def read_partition(path: str | Path) -> list[dict]:
    with open(path, "rb") as source:
        return [orjson.loads(line) for line in source if line.strip()]


def list_partitions(directory: Path) -> Iterable[Path]:
    return sorted(directory.glob("part-*.ndjson"))
