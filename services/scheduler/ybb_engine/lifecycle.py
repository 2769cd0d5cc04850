"""An export job's life: its states, the moves allowed between them, and the job itself.

    awaiting_records ─commit─▶ queued ─first task─▶ running ─▶ succeeded | failed
          │                      │                     │
          └──────── cancelled ◀──┴─────────────────────┘       any ─retention─▶ expired

Only `ExportService` and the tasks it submits change a job's state, always through
`JobStore.transition(job_id, State.sources_of(target), ...)`, and every change is logged
once (telemetry.job_transition).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .telemetry import job_transition


class State(StrEnum):
    AWAITING_RECORDS = "awaiting_records"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def ended(self) -> bool:
        return self in ENDED

    @classmethod
    def sources_of(cls, target: State) -> tuple[State, ...]:
        """The states a job may move to `target` from."""
        return tuple(state for state, targets in TRANSITIONS.items() if target in targets)


ENDED = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED, State.EXPIRED})
ACTIVE = (State.QUEUED, State.RUNNING)  # tasks are (or should be) on the cluster
TRANSITIONS: dict[State, frozenset[State]] = {
    State.AWAITING_RECORDS: frozenset({State.QUEUED, State.CANCELLED, State.EXPIRED}),
    State.QUEUED: frozenset({State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED, State.EXPIRED}),
    State.RUNNING: frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED, State.EXPIRED}),
    State.SUCCEEDED: frozenset({State.EXPIRED}),
    State.FAILED: frozenset({State.EXPIRED}),
    State.CANCELLED: frozenset({State.EXPIRED}),
    State.EXPIRED: frozenset(),
}


@dataclass
class Job:
    """One export, as the job store keeps it."""

    id: str
    tenant: str
    state: State
    format: str
    filename: str
    spec: dict[str, Any]
    created_at: float
    expires_at: float
    template: str | None = None
    request_id: str | None = None
    idempotency_key: str | None = None
    partitions: int = 0                  # input partition files so far
    rows_total: int = 0                  # records received
    rows_done: int = 0                   # records prepared by the tasks
    rows: int | None = None              # rows in the file
    size_bytes: int | None = None
    warnings: dict[str, int] | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_detail: Any = None
    started_at: float | None = None
    finished_at: float | None = None
    expected_rows: int | None = None
    batches: int = 0                     # uploaded batches stored
    pending_batches: int = 0             # uploaded batches being written now
    request_digest: str | None = None    # what the Idempotency-Key was first used for
    callback_url: str | None = None
    cache_key: str | None = None
    webhook_status: str | None = None

    def __post_init__(self) -> None:
        self.state = State(self.state)

    @property
    def ended(self) -> bool:
        return self.state.ended

    @property
    def progress(self) -> int:
        """Percent of the records prepared; 100 once the file is written."""
        if self.state is State.SUCCEEDED:
            return 100
        return min(100, int(100 * self.rows_done / self.rows_total)) if self.rows_total else 0

    @property
    def duration(self) -> float | None:
        """Seconds from the first task to the end (or until now, while running)."""
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at

    @property
    def export_type(self) -> str | None:
        """`participants` of the template `participants/standard`."""
        return (self.template or "").partition("/")[0] or None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


COLUMNS = tuple(f.name for f in dataclasses.fields(Job))


class Transitions(Protocol):
    """The part of a JobStore that `move` needs."""

    def transition(self, job_id: str, from_states: Iterable[State], when: dict[str, Any] | None = None,
                   **fields: Any) -> bool: ...
    def get(self, job_id: str) -> Job | None: ...


def move(store: Transitions, job_id: str, target: State, when: dict[str, Any] | None = None,
         **fields: Any) -> Job | None:
    """Move the job to `target` if its current state allows it (and its fields equal `when`),
    with `fields`; log it once.

    Returns the job as it is now, or None when the move was not allowed (another process
    ended, cancelled or started the job first). Ending a job stamps `finished_at`.
    """
    if target in (State.SUCCEEDED, State.FAILED, State.CANCELLED):
        fields.setdefault("finished_at", time.time())
    if not store.transition(job_id, State.sources_of(target), when, state=target, **fields):
        return None
    job = store.get(job_id)
    if job is not None:
        job_transition(job, target.value)
    return job
