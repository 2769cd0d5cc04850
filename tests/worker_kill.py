"""Killing a Dask worker of the test stack while it holds an export's tasks (the e2e worker-loss
tests): find it through the scheduler, freeze it so the export cannot end first, then kill it."""
from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import psutil
from distributed import Client
from support import wait_for


def workers(client: Client) -> dict[str, dict]:
    """The scheduler's workers: address -> info (name, nthreads, ...)."""
    return client.scheduler_info(n_workers=-1)["workers"]


def pids(client: Client, addresses) -> dict[str, int]:
    """Address -> process id of these workers (asked of each worker)."""
    return client.run(os.getpid, workers=list(addresses))


def job_tasks(client: Client, job_id: str) -> dict[str, list[str]]:
    """Worker address -> the tasks of this export the scheduler has it processing."""
    held = {address: [key for key in keys if job_id in str(key)] for address, keys in client.processing().items()}
    return {address: keys for address, keys in held.items() if keys}


def nanny_pids(stack: Any) -> set[int]:
    return {proc.pid for name, proc in stack.processes.items() if name.startswith("worker-")}


def worker_names(stack: Any) -> set[str]:
    return {f"worker-{n}" for n in range(1, stack.config.workers + 1)}


def wait_whole(client: Client, stack: Any) -> None:
    wait_for(lambda: {w["name"] for w in workers(client).values()} == worker_names(stack), timeout=60,
             message=lambda: f"the cluster is not whole: {workers(client)}")


def kill_holder(client: Client, stack: Any, job_id: str, still_running: Callable[[], bool]) -> tuple[str, int, list]:
    """SIGKILL the worker processing one of the job's tasks, frozen first (SIGSTOP) so that it
    holds them when killed; `still_running()` must hold while it is frozen. Returns
    (address, pid, the tasks it held)."""
    victim = next(iter(wait_for(lambda: job_tasks(client, job_id), timeout=60, interval=0.01,
                                message="no worker started a task of the export")))
    pid = pids(client, [victim])[victim]
    assert psutil.Process(pid).ppid() in nanny_pids(stack), f"{victim} (pid {pid}) is not a worker of the stack"
    os.kill(pid, signal.SIGSTOP)
    killed = False
    try:
        # Frozen, the victim can't finish what it holds; the scheduler, told of what it
        # finished just before, gives it more of the export's tasks if it holds none.
        held = wait_for(lambda: job_tasks(client, job_id).get(victim), timeout=30,
                        message=f"the frozen worker {victim} holds no task of the export")
        wait_for(still_running, timeout=30, message="the export is not running while the worker is frozen")
        os.kill(pid, signal.SIGKILL)
        killed = True
    finally:
        if not killed:
            os.kill(pid, signal.SIGCONT)
    return victim, pid, held


def released_tasks(client: Client, victim: str, job_id: str) -> list[str]:
    """The job's tasks the scheduler took back from the removed worker."""
    removals = [msg for _, msg in client.get_events(victim) if msg.get("action") == "remove-worker"]
    assert removals, f"the scheduler logged no removal of {victim}"
    return [key for msg in removals for key in msg["processing-tasks"] if job_id in str(key)]


def wait_restarted(client: Client, stack: Any, old_pid: int) -> None:
    """The nanny restarts the killed worker: the same names again, the victim's with a new process."""
    def restarted() -> dict[str, int] | None:
        found = workers(client)
        if {w["name"] for w in found.values()} != worker_names(stack):
            return None
        now = pids(client, found)
        return now if old_pid not in now.values() else None

    back = wait_for(restarted, timeout=60, interval=0.2,
                    message=lambda: f"the killed worker did not come back: {workers(client)}")
    assert all(psutil.Process(p).ppid() in nanny_pids(stack) for p in back.values())
