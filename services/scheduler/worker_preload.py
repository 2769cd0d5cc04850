"""Dask worker preload (`dask worker --preload worker_preload`).

Imports the engine once per worker, so the first export does not pay for it, and
configures logging from LOG_LEVEL.
"""
from __future__ import annotations

import logging
import os

import ybb_engine.export  # noqa: F401  (warm import)


def dask_setup(worker) -> None:  # noqa: ANN001 (distributed passes the Worker)
    logging.getLogger("ybb").setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    logging.getLogger("distributed.worker").info("ybb_engine loaded on %s", worker.address)
