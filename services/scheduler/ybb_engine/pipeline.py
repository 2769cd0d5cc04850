"""Builds the Dask graph of one export: prepare every partition in parallel on the
workers, then one merge task that combines them and writes the file.

The final future is handed to `fire_and_forget`, so the export finishes even when the
API process that submitted it exits; the tasks themselves record the outcome in the
job store.
"""
from __future__ import annotations

from typing import Sequence

from distributed import Client, Future, fire_and_forget

from . import tasks
from .partitions import PartitionFile

TASK_RETRIES = 3


def prepare_key(job_id: str, index: int) -> str:
    return f"ybb-prepare-{job_id}-{index}"


def write_key(job_id: str) -> str:
    return f"ybb-write-{job_id}"


def submit_export(
    client: Client, store_path: str, job_id: str, spec: dict, partitions: Sequence[PartitionFile], out_path: str
) -> Future:
    prepared = [
        client.submit(
            tasks.prepare, store_path, job_id, part.path, spec, part.offset,
            key=prepare_key(job_id, index), retries=TASK_RETRIES, pure=False,
        )
        for index, part in enumerate(partitions)
    ]
    final = client.submit(
        tasks.write, store_path, job_id, prepared, spec, out_path,
        key=write_key(job_id), retries=TASK_RETRIES, pure=False,
    )
    fire_and_forget(final)
    return final


def cancel_export(client: Client, job_id: str, partition_count: int) -> None:
    keys = [write_key(job_id), *(prepare_key(job_id, i) for i in range(partition_count))]
    client.cancel([Future(key, client=client) for key in keys], force=True)
