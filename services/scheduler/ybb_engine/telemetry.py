"""Hooks the job code calls for logs, metrics and Sentry. Plain Python: no Flask here.

The observability work fills these in; callers stay as they are.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator


@contextlib.contextmanager
def job_context(job_id: str, **tags: Any) -> Iterator[None]:
    """Everything inside runs for one job: logs and Sentry events carry its id and tags."""
    yield


def job_transition(job: dict[str, Any], state: str, **extra: Any) -> None:
    """One structured log line (and metrics) per job state change."""
