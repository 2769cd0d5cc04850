"""Retention: delete expired export files and mark their jobs expired; fail lost jobs; delete
the job rows expired more than JOB_ROW_RETENTION_HOURS ago and job folders that have no row.

    python -m ybb_api.sweeper              # one pass (the systemd timer)
    python -m ybb_api.sweeper --every 600  # a pass every 10 minutes (compose, `make run`)

Downloads of an expired export answer 410 Gone; once its row is deleted, 404. Each pass logs
what it did: `sweep: {'expired': 0, 'lost': 0, 'deleted': 0, 'orphans': 0}`. With --every, a
pass that fails (the job store unreachable) is logged and the next one runs as planned.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from flask import Flask

from . import create_app, jobs

log = logging.getLogger("ybb.sweeper")


def sweep(app: Flask, now: float | None = None) -> dict[str, int]:
    """One pass; returns what it did."""
    with app.app_context():
        return jobs.service().sweep(now)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ybb_api.sweeper", description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, help="repeat every N seconds instead of one pass")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    while True:
        if not args.every:
            log.info("sweep: %s", sweep(app))
            return 0
        try:
            log.info("sweep: %s", sweep(app))
        except Exception:  # noqa: BLE001  the next pass may succeed: keep the loop (and the process) alive
            log.exception("sweep failed")
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
