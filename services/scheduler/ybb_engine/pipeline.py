"""Builds the Dask graph of one export (see fastexport.py for what each step does):

    prepare ×P ─▶ plan ─▶ scatter ×P ─▶ shuffled ─▶ render ×P ─▶ write ─▶ (notify)

or, when every partition's output rows are its input rows and the styles are known in advance
(no filters, dedupe, sort, split_by or currency codes: fastexport.can_fuse):

    prepare_render ×P ─▶ write ─▶ (notify)

P is the number of input partitions, so the graph is known when the API submits it. Only
paths and small metadata travel through the scheduler: records, prepared rows, pieces
and rendered chunks stay in files under the job's directory (DATA_DIR/jobs/<id>/work).
Scatter tasks do nothing unless the export dedupes, sorts or splits by a field.

`run_inline` calls the same steps one after the other in the API's thread, for exports too
small to be worth the cluster (INLINE_MAX_ROWS).

The futures are handed to `fire_and_forget`, so the export finishes even when the API
process that submitted it exits; the tasks themselves record the outcome in the job store.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from distributed import Client, Future, fire_and_forget

from . import fastexport, tasks
from .spec import ExportSpec
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


def plan_key(job_id: str) -> str:
    return f"ybb-plan-{job_id}"


def scatter_key(job_id: str, index: int) -> str:
    return f"ybb-scatter-{job_id}-{index}"


def shuffle_key(job_id: str) -> str:
    return f"ybb-shuffle-{job_id}"


def render_key(job_id: str, index: int) -> str:
    return f"ybb-render-{job_id}-{index}"


Run = Callable[..., Any]  # run(function, *args, key=...) -> its result, or a Future of it


def _graph(run: Run, store_path: str, job_id: str, spec: dict, partitions: Sequence[PartitionFile],
           out_path: str) -> Any:
    """The export's steps, in order; `run` either submits each to Dask or calls it here."""
    count = len(partitions)
    if fastexport.can_fuse(ExportSpec.from_dict(spec)):
        # Rows stay where they are: each partition prepares and renders in one task.
        rendered = [run(tasks.prepare_render, store_path, job_id, part.path, spec, part.offset, index, out_path,
                        key=prepare_key(job_id, index))
                    for index, part in enumerate(partitions)]
        return run(tasks.write, store_path, job_id, rendered, spec, out_path, None, key=write_key(job_id))
    prepared = [run(tasks.prepare, store_path, job_id, part.path, spec, part.offset, out_path,
                    key=prepare_key(job_id, index))
                for index, part in enumerate(partitions)]
    the_plan = run(tasks.plan, store_path, job_id, prepared, spec, out_path, key=plan_key(job_id))
    scattered = [run(tasks.scatter, store_path, job_id, the_plan, index, out_path, key=scatter_key(job_id, index))
                 for index in range(count)]
    barrier = run(tasks.shuffled, scattered, key=shuffle_key(job_id))
    rendered = [run(tasks.render, store_path, job_id, the_plan, barrier, index, spec, out_path,
                    key=render_key(job_id, index))
                for index in range(max(count, 1))]
    return run(tasks.write, store_path, job_id, rendered, spec, out_path, the_plan, key=write_key(job_id))


def submit_export(
    client: Client, store_path: str, job_id: str, spec: dict, partitions: Sequence[PartitionFile], out_path: str,
    notification: Notification | None = None,
) -> Future:
    def submit(function: Callable, *args: Any, key: str) -> Future:
        return client.submit(function, *args, key=key, retries=TASK_RETRIES, pure=False)

    final = _graph(submit, store_path, job_id, spec, partitions, out_path)
    return _finish(client, store_path, job_id, final, notification)


def run_inline(store_path: str, job_id: str, spec: dict, partitions: Sequence[PartitionFile], out_path: str) -> dict:
    """The same steps, called one after the other in this thread: for small exports, which
    then never wait in the cluster's queue behind a big one. Returns the outcome."""

    def call(function: Callable, *args: Any, key: str) -> Any:
        return function(*args)

    return _graph(call, store_path, job_id, spec, partitions, out_path)


def _finish(client: Client, store_path: str, job_id: str, final: Future, notification: Notification | None) -> Future:
    fire_and_forget(final)
    if notification is not None:
        fire_and_forget(client.submit(tasks.notify, store_path, job_id, final, notification,
                                      key=f"ybb-notify-{job_id}", pure=False))
    return final


def all_keys(job_id: str, partition_count: int) -> list[str]:
    count = max(partition_count, 1)
    return [write_key(job_id), plan_key(job_id), shuffle_key(job_id),
            *(prepare_key(job_id, i) for i in range(partition_count)),
            *(scatter_key(job_id, i) for i in range(partition_count)),
            *(render_key(job_id, i) for i in range(count))]


def cancel_export(client: Client, job_id: str, partition_count: int) -> None:
    client.cancel([Future(key, client=client) for key in all_keys(job_id, partition_count)], force=True)


def task_state(client: Client, key: str) -> str | None:
    """The scheduler's state for `key` ("processing", "memory", "erred", ...), None if unknown."""

    def lookup(dask_scheduler, key: str = key) -> str | None:  # noqa: ANN001 (distributed passes the Scheduler)
        task = dask_scheduler.tasks.get(key)
        return task.state if task is not None else None

    return client.run_on_scheduler(lookup)
