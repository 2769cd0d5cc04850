"""Builds the Dask graph of one export (see fastexport.py for what each step does):

    prepare ×P ─▶ plan ─▶ scatter ×P ─▶ shuffled ─▶ render ×P ─▶ write ─▶ (notify)

where each prepare task reads one partition file of records, or one key range of a source
(sources/reader.py),

or, when every partition's output rows are its input rows and the styles are known in advance
(no filters, dedupe, sort, split_by or currency codes: fastexport.can_fuse):

    prepare_render ×P ─▶ write ─▶ (notify)

P is the number of input partitions, so the graph is known when the service submits it. Only
paths and small metadata travel through the scheduler: records, prepared rows, pieces and
rendered chunks stay in files under the job's work directory (layout.py). Scatter tasks do
nothing unless the export dedupes, sorts or splits by a field.

`run_inline` calls the same steps one after the other in the caller's thread, for exports
too small to be worth the cluster (INLINE_MAX_ROWS).

The futures are handed to `fire_and_forget`, so the export finishes even when the API
process that submitted it exits; the tasks themselves record the outcome in the job store.
Only this module knows the task keys.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from distributed import Client, Future, fire_and_forget

from . import fastexport, tasks
from .partitions import PartitionFile
from .sources.reader import SourceRange
from .tasks import JobRef, Notification, Step

Inputs = Sequence[PartitionFile | SourceRange]  # record files, or the reads of a source

TASK_RETRIES = 3


def _key(step: str, job_id: str, index: int | None = None) -> str:
    return f"ybb-{step}-{job_id}" if index is None else f"ybb-{step}-{job_id}-{index}"


def write_key(job_id: str) -> str:
    return _key("write", job_id)


Run = Callable[..., Any]  # run(function, *args, key=...) -> its result, or a Future of it


def _graph(run: Run, ref: JobRef, partitions: Inputs) -> Any:
    """The export's steps, in order; `run` either submits each to Dask or calls it here."""
    job_id = ref.job_id
    steps = [Step(ref, index, part) for index, part in enumerate(partitions)]
    # A source's reads find their row counts only when they run, so their rows are numbered by the plan step.
    if fastexport.can_fuse(ref.export_spec()) and not any(isinstance(p, SourceRange) for p in partitions):
        # Rows stay where they are: each partition prepares and renders in one task.
        rendered = [run(tasks.prepare_render, step, key=_key("prepare", job_id, step.index)) for step in steps]
        return run(tasks.write, ref, rendered, None, key=write_key(job_id))
    prepared = [run(tasks.prepare, step, key=_key("prepare", job_id, step.index)) for step in steps]
    the_plan = run(tasks.plan, ref, prepared, key=_key("plan", job_id))
    scattered = [run(tasks.scatter, Step(ref, index), the_plan, key=_key("scatter", job_id, index))
                 for index in range(len(steps))]
    barrier = run(tasks.shuffled, scattered, key=_key("shuffle", job_id))
    rendered = [run(tasks.render, Step(ref, index), the_plan, barrier, key=_key("render", job_id, index))
                for index in range(max(len(steps), 1))]
    return run(tasks.write, ref, rendered, the_plan, key=write_key(job_id))


def submit_export(client: Client, ref: JobRef, partitions: Inputs,
                  notification: Notification | None = None) -> Future:
    """Submit the export's graph; returns the future of its final (write) task."""

    def submit(function: Callable[..., Any], *args: Any, key: str) -> Future:
        return client.submit(function, *args, key=key, retries=TASK_RETRIES, pure=False)

    final = _graph(submit, ref, partitions)
    fire_and_forget(final)
    if notification is not None:
        fire_and_forget(client.submit(tasks.notify, ref, final, notification, key=_key("notify", ref.job_id),
                                      pure=False))
    return final


def run_inline(ref: JobRef, partitions: Inputs) -> dict[str, Any]:
    """The same steps, called one after the other in this thread: for small exports, which
    then never wait in the cluster's queue behind a big one. Returns the outcome."""

    def call(function: Callable[..., Any], *args: Any, key: str) -> Any:
        return function(*args)

    return _graph(call, ref, partitions)


def all_keys(job_id: str, partition_count: int) -> list[str]:
    count = max(partition_count, 1)
    return [write_key(job_id), _key("plan", job_id), _key("shuffle", job_id),
            *(_key("prepare", job_id, i) for i in range(partition_count)),
            *(_key("scatter", job_id, i) for i in range(partition_count)),
            *(_key("render", job_id, i) for i in range(count))]


def cancel_export(client: Client, job_id: str, partition_count: int) -> None:
    client.cancel([Future(key, client=client) for key in all_keys(job_id, partition_count)], force=True)


def final_task_state(client: Client, job_id: str) -> str | None:
    """The scheduler's state for the job's write task ("processing", "memory", "erred", ...), None if unknown."""
    key = write_key(job_id)

    def lookup(dask_scheduler: Any, key: str = key) -> str | None:
        task = dask_scheduler.tasks.get(key)
        return task.state if task is not None else None

    return client.run_on_scheduler(lookup)
