"""Partition files written as records arrive (issue 17): PartitionWriter, StagedRecords,
records_digest, and write_partitions on top of them."""
from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from ybb_engine.errors import EngineError
from ybb_engine.partitions import (
    PartitionWriter, StagedRecords, list_partitions, read_partition, records_digest, write_partitions,
)

RECORDS = [{"n": i, "name": f"row {i}", "tags": [i, {"deep": None}]} for i in range(23)]


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("slices", [[23], [1] * 23, [5, 0, 7, 11], [10, 13]])
def test_slices_make_the_same_partitions_and_digest_as_one_list(tmp_path: Path, slices: list[int]) -> None:
    writer = PartitionWriter(tmp_path, rows_per_partition=10)
    start = 0
    for size in slices:
        writer.write(RECORDS[start:start + size])
        start += size
    parts = writer.close()
    assert [(Path(p.path).name, p.rows, p.offset) for p in parts] == [
        ("part-00000-0000010.json", 10, 0), ("part-00001-0000010.json", 10, 10), ("part-00002-0000003.json", 3, 20)]
    assert [r for p in parts for r in read_partition(p.path)] == RECORDS
    assert writer.digest == records_digest(RECORDS) == __import__("hashlib").sha256(orjson.dumps(RECORDS)).hexdigest()
    assert _names(tmp_path) == [Path(p.path).name for p in parts]  # no temporary file left


def test_write_partitions_numbers_from_first_index_and_leaves_nothing_on_an_error(tmp_path, monkeypatch) -> None:
    parts = write_partitions(RECORDS, tmp_path / "a", 10, first_index=4, offset=100)
    assert [(Path(p.path).name, p.offset) for p in parts] == [
        ("part-00004-0000010.json", 100), ("part-00005-0000010.json", 110), ("part-00006-0000003.json", 120)]

    import ybb_engine.partitions as partitions

    real, calls = partitions._dumps, []

    def failing(records):  # noqa: ANN001, ANN202
        calls.append(len(records))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(records)

    monkeypatch.setattr(partitions, "_dumps", failing)
    with pytest.raises(OSError):
        write_partitions(RECORDS, tmp_path / "b", 10)
    assert _names(tmp_path / "b") == []


def test_lone_surrogates_and_big_integers_are_written_by_the_stdlib_record_by_record(tmp_path: Path) -> None:
    records = [{"a": "ok"}, {"a": "\ud800"}, {"a": 2**70}, {"a": "é"}]
    writer = PartitionWriter(tmp_path, 2)
    writer.write(records[:1])
    writer.write(records[1:])
    parts = writer.close()
    assert [r for p in parts for r in read_partition(p.path)] == records
    assert writer.digest == records_digest(records)  # the same bytes, whatever the slices


def test_an_empty_writer_has_the_digest_of_an_empty_list(tmp_path: Path) -> None:
    writer = PartitionWriter(tmp_path, 5)
    assert writer.close() == [] and writer.digest == records_digest([])


def test_staged_records_keep_a_sample_count_rows_and_are_adopted_or_discarded(tmp_path: Path) -> None:
    job_dir = tmp_path / "jobs" / "j1"
    staged = StagedRecords(job_dir / "input", 10, max_rows=100, sample_rows=4, job_id="j1", folder=job_dir)
    staged.add(RECORDS[:3])
    staged.add(RECORDS[3:])
    assert staged.finish().rows == 23 and len(staged) == 23 and staged.sample == RECORDS[:4]
    assert staged.adopt(job_dir / "input") == list_partitions(job_dir / "input")
    staged.discard()  # a no-op once adopted
    assert len(list_partitions(job_dir / "input")) == 3

    other = StagedRecords(tmp_path / "jobs" / "j2" / "input", 10, 100, job_id="j2", folder=tmp_path / "jobs" / "j2")
    other.add(RECORDS)
    other.discard()
    assert not (tmp_path / "jobs" / "j2").exists()


def test_a_batch_is_renamed_to_its_reserved_indexes(tmp_path: Path) -> None:
    input_dir = tmp_path / "input"
    staged = StagedRecords(input_dir / ".batch-x", 10, 100)
    staged.add(RECORDS)
    moved = staged.finish().adopt(input_dir, first_index=7)
    assert _names(input_dir) == ["part-00007-0000010.json", "part-00008-0000010.json", "part-00009-0000003.json"]
    assert [Path(p.path).parent for p in moved] == [input_dir] * 3


def test_past_the_limit_or_after_a_non_object_nothing_more_is_written(tmp_path: Path) -> None:
    staged = StagedRecords(tmp_path / "a", 10, max_rows=20)
    staged.add(RECORDS[:15])
    assert len(list_partitions(tmp_path / "a")) == 1
    staged.add(RECORDS[15:])
    assert staged.finish().rows == 23 and staged.partitions == [] and list_partitions(tmp_path / "a") == []

    bad = StagedRecords(tmp_path / "b", 10, max_rows=100)
    bad.add(RECORDS[:12])
    bad.add([{"a": 1}, 5, {"b": 2}])
    bad.add([7])
    assert bad.not_object == 13 and bad.finish().rows == 16 and list_partitions(tmp_path / "b") == []


def test_a_full_disk_while_staging_is_a_503_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    import ybb_engine.partitions as partitions

    staged = StagedRecords(tmp_path / "jobs" / "j" / "input", 10, 100, job_id="j", folder=tmp_path / "jobs" / "j")
    staged.add(RECORDS[:12])

    def full(records):  # noqa: ANN001, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(partitions, "_dumps", full)
    with pytest.raises(EngineError) as raised:
        staged.add(RECORDS[12:])
    assert raised.value.status == 503 and raised.value.code == "storage_unavailable"
    assert raised.value.headers == {"Retry-After": "30"}
    assert not (tmp_path / "jobs" / "j").exists()


def test_a_partition_is_a_json_array_the_stdlib_reads_too(tmp_path: Path) -> None:
    parts = write_partitions(RECORDS, tmp_path, 100)
    assert json.loads(Path(parts[0].path).read_bytes()) == RECORDS
