"""Builds the Dask graph of one export: prepare every partition in parallel on the
workers, then one merge task that combines them and writes the file, then (with a
callback_url) one task that delivers the webhook.

The futures are handed to `fire_and_forget`, so the export finishes even when the API
process that submitted it exits; the tasks themselves record the outcome in the job store.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from distributed import Client, Future, fire_and_forget

from . import tasks
from .partitions import PartitionFile

TASK_RETRIES = 3


@dataclass(frozen=True)
class Notification:
    url: str
    secret: str
    base_url: str
    allowlist: tuple[str, ...] = ()
    attempts: int = 4
    backoff: float = 1.0


def prepare_key(job_id: str, index: int) -> str:
    return f"ybb-prepare-{job_id}-{index}"


def write_key(job_id: str) -> str:
    return f"ybb-write-{job_id}"


def submit_export(
    client: Client, store_path: str, job_id: str, spec: dict, partitions: Sequence[PartitionFile], out_path: str,
    notification: Notification | None = None,
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
    if notification is not None:
        fire_and_forget(client.submit(tasks.notify, store_path, job_id, final, notification,
                                      key=f"ybb-notify-{job_id}", pure=False))
    return final


def cancel_export(client: Client, job_id: str, partition_count: int) -> None:
    keys = [write_key(job_id), *(prepare_key(job_id, i) for i in range(partition_count))]
    client.cancel([Future(key, client=client) for key in keys], force=True)


def task_state(client: Client, key: str) -> str | None:
    """The scheduler's state for `key` ("processing", "memory", "erred", ...), None if unknown."""

    def lookup(dask_scheduler, key: str = key) -> str | None:  # noqa: ANN001 (distributed passes the Scheduler)
        task = dask_scheduler.tasks.get(key)
        return task.state if task is not None else None

    return client.run_on_scheduler(lookup)
