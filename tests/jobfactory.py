"""Jobs for tests that put rows in a job store directly."""
from __future__ import annotations

import time
import uuid
from typing import Any

from ybb_engine.lifecycle import Job


def make_job(**fields: Any) -> Job:
    """A queued xlsx job of tenant "t", created now, expiring in an hour; `fields` override."""
    now = time.time()
    defaults: dict[str, Any] = {"id": uuid.uuid4().hex, "tenant": "t", "state": "queued", "format": "xlsx",
                                "filename": "x.xlsx", "spec": {}, "created_at": now, "expires_at": now + 3600}
    return Job(**{**defaults, **fields})
