"""Bulk work lowers its own CPU priority: per thread, and its session's autogroup."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from ybb_engine import priority

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")


def _in_thread(function, *args) -> tuple[int, int]:
    """Run `function` in a new thread; return that thread's nice value and its child thread's."""
    seen: list[int] = []

    def child() -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    def body() -> None:
        function(*args)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        started = threading.Thread(target=child)
        started.start()
        started.join()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return seen[0], seen[1]


@linux_only
def test_lower_thread_priority_touches_only_the_calling_thread() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    target = min(before + 5, 19)
    assert _in_thread(priority.lower_thread_priority, target) == (target, target)  # threads it starts inherit
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


@linux_only
def test_never_raises_a_priority() -> None:
    def lower_twice() -> None:
        priority.lower_thread_priority(15)
        priority.lower_thread_priority(5)  # would need privilege to undo; must be left alone

    assert _in_thread(lower_twice)[0] == max(15, os.getpriority(os.PRIO_PROCESS, 0))


def test_zero_changes_nothing() -> None:
    before = os.getpriority(os.PRIO_PROCESS, 0)
    priority.lower_thread_priority(0)
    priority.lower_process_priority(0)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before


def test_autogroup_nice_is_raised_not_lowered(tmp_path: Path) -> None:
    autogroup = tmp_path / "autogroup"
    autogroup.write_text("/autogroup-551 nice 0\n")
    priority._lower_autogroup(10, str(autogroup))
    assert autogroup.read_text() == "10"
    autogroup.write_text("/autogroup-551 nice 15\n")
    priority._lower_autogroup(10, str(autogroup))
    assert autogroup.read_text() == "/autogroup-551 nice 15\n"


def test_no_autogroup_is_not_an_error(tmp_path: Path) -> None:
    priority._lower_autogroup(10, str(tmp_path / "absent"))
    assert not (tmp_path / "absent").exists()
