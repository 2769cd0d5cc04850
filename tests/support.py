"""Small helpers shared by the tests (fixtures live in conftest.py files)."""
from __future__ import annotations

import socket
from datetime import datetime
from typing import Any

from ybb_engine.templates import Column
from ybb_engine.values import map_key

TEMPLATES = ["participants/standard", "participants/detailed", "participants/summary", "participants/complete",
             "payments/standard", "payments/detailed", "ambassadors/standard", "ambassadors/detailed"]


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
