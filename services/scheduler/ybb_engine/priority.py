"""CPU priority of bulk work.

Dask workers and the API's big uploads run at a higher nice value than interactive
requests, so that a PHP page's small export stays fast while a 50,000-row export is
parsed and rendered on the same cores. On Linux the nice value belongs to each thread
(setpriority(2)); elsewhere these functions do nothing. Lowering a priority needs no
privilege; raising it back does, so nothing here ever raises one.

Nice values order threads within one scheduling group only. Under systemd or Docker each
service is a cgroup, weighted by CPUWeight= / cpu_shares (set in deploy/); on a kernel with
autogroup (sched_autogroup_enabled=1) each session is a group, whose own nice value
/proc/self/autogroup holds, so a bulk process lowers that too (`make run` starts each
service in a session of its own).
"""
from __future__ import annotations

import os
import sys
import threading


def _lower(thread_id: int, niceness: int) -> None:
    try:
        if os.getpriority(os.PRIO_PROCESS, thread_id) < niceness:
            os.setpriority(os.PRIO_PROCESS, thread_id, niceness)
    except OSError:  # the thread ended meanwhile (ProcessLookupError)
        pass


def lower_thread_priority(niceness: int) -> None:
    """Run the calling thread at nice `niceness` (or lower, if it already is); 0 leaves it."""
    if niceness > 0 and sys.platform == "linux":
        _lower(threading.get_native_id(), niceness)


def lower_process_priority(niceness: int) -> None:
    """Every thread of this process, the threads they start later, and this session's
    autogroup (when the kernel has one) at nice `niceness`."""
    if niceness <= 0 or sys.platform != "linux":
        return
    for entry in os.listdir("/proc/self/task"):
        _lower(int(entry), niceness)
    _lower_autogroup(niceness)


def _lower_autogroup(niceness: int, path: str = "/proc/self/autogroup") -> None:
    try:
        with open(path) as f:  # "/autogroup-551 nice 0"
            current = int(f.read().split()[-1])
        if current < niceness:
            with open(path, "w") as f:
                f.write(str(niceness))
    except (OSError, ValueError, IndexError):  # no autogroup (cgroups decide), or not allowed
        pass
