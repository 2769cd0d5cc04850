"""Small helpers shared by the tests (fixtures live in conftest.py files)."""
from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ybb_engine.templates import Column
from ybb_engine.values import map_key

TEMPLATES = ["participants/standard", "participants/detailed", "participants/summary", "participants/complete",
             "payments/standard", "payments/detailed", "ambassadors/standard", "ambassadors/detailed"]


T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 30, interval: float = 0.05,
             message: str | Callable[[], str] = "condition not met") -> T:
    """Call `predicate` until it returns something truthy, and return that value.

    The one way the tests wait for something to happen: no fixed sleeps, no hand-made loops.
    The predicate is called at once, then every `interval` seconds, and a last time at the
    deadline; then AssertionError says `message` (a string, or a callable for details known
    only then) and the last value. Exceptions of the predicate are not caught.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            detail = message() if callable(message) else message
            raise AssertionError(f"{detail} (waited {timeout:g} s; last value: {value!r})")
        time.sleep(min(interval, left))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expected_cell(column: Column, raw: Any) -> Any:
    """What a cell holds after export, computed from the raw sample value."""
    if raw is None:
        return None
    if column.value_map:
        key = map_key(raw) if column.type != "boolean" else ("true" if raw in (1, True, "1") else "false")
        return column.value_map[key]
    if column.type in ("integer", "number", "currency"):
        return float(raw)
    if column.type == "datetime":
        return datetime.fromisoformat(raw)
    if column.type == "date":
        return datetime.fromisoformat(raw).date()
    return raw


@contextmanager
def running_stack(var: Path, **settings: Any) -> Iterator[Any]:
    """A real stack (devstack: Nginx, Gunicorn, Dask) on free loopback ports under `var`,
    ready while the block runs, stopped after it. `settings` are StackConfig fields."""
    from devstack import Stack, StackConfig

    ports = {name: free_port() for name in ("scheduler_port", "dashboard_port", "api_port", "https_port",
                                            "http_port")}
    stack = Stack(StackConfig(var=var, **{**ports, **settings}))
    try:
        stack.start()
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()
