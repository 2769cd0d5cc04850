"""Retention: delete expired export files and mark their jobs expired; fail lost jobs.

    python -m ybb_api.sweeper              # one pass (the systemd timer)
    python -m ybb_api.sweeper --every 600  # a pass every 10 minutes (the compose service)

Downloads of an expired export answer 410 Gone.
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
        log.info("sweep: %s", sweep(app))
        if not args.every:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
