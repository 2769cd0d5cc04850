"""Soak test (`make soak`): the load-test scenarios for 10 minutes at 20 users against a stack
of its own, the RSS of every service process sampled every 10 s; it fails on any 5xx, on a
failed locust gate (failures, exceptions) and on RSS growth over 10 % in any process between
minute 2 and the end of the run.

    .venv-locust/bin/python loadtests/soak.py                        # 10 minutes, 20 users (~12 min)
    .venv-locust/bin/python loadtests/soak.py --minutes 3 --users 5  # a quick check
    make soak SOAK_ARGS="--minutes 3 --users 5"

The stack (scripts/devstack.py: Nginx, Gunicorn, the Dask scheduler and workers) is started
on free loopback ports with its own var directory (default var/soak, its data and logs
emptied first) and stopped at the end, so that nothing else is measured: only the processes
of that stack's PID files and their descendants are sampled. Processes of other stacks
found on the machine are listed before the run (they share the CPU, not the figures).

Locust runs through loadtests/run.py (`--profile soak`: the default mix, latency thresholds
relaxed; the failure, 5xx and exception gates apply). The clock of the figures starts when
locust starts ramping up its users ("minute 2" is two minutes after that).

Growth, per process: the median of the samples within WINDOW/2 s of minute 2 (the baseline:
imports done, caches and pools warm) against the median of the samples of the run's last
WINDOW s. A process is a pid with its start time, so a replaced Gunicorn worker (a new pid) is
a new process, never compared with the one it replaced. The soak's stack runs with Gunicorn's
recycling off (GUNICORN_MAX_REQUESTS=0; at 20 users a worker serves ~1,750 requests in 10
minutes, near the default 2,000): recycling is a backstop that would reset a growing worker
and hide what the soak looks for. So any process of the stack that exits or appears after the
baseline fails the run (a crash, a hang, an OOM kill, a Dask worker restarted by its nanny);
--allow-restarts only reports them. With --max-requests N the stack recycles as deployed:
Gunicorn workers replaced then are reported, not failed, and neither they nor their
successors are judged (they lack one of the two windows), while the other workers are.

Reports (beside run.py's locust reports, default var/soak/reports): soak-rss.csv (every
sample), soak-summary.json (the table and the request counts).

Standard library only, like run.py: RSS from /proc/<pid>/status (VmRSS), process trees from
/proc/<pid>/stat; devstack.py and run.py run as child processes.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT_VARIABLES = ("YBB_SCHEDULER_PORT", "YBB_DASHBOARD_PORT", "YBB_API_PORT", "YBB_HTTPS_PORT", "YBB_HTTP_PORT")
SUMMARY = re.compile(r"requests (\d+), failures (\d+), 5xx (\d+), expected 429s \(abuse\) (\d+), honest 429s (\d+)")
RAMPING = "Ramping to"  # locust's line when it starts its users: the soak's clock starts there
SERVICE_PATTERN = re.compile(r"gunicorn|dask|nginx: master")


# -- /proc -------------------------------------------------------------------------------------

def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[19])


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[0], []).append(int(entry))
    return children


def _tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def role(service: str, pid: int, leader: int) -> str:
    """What a process of a service is, for the table."""
    command = _cmdline(pid)
    if service == "api":
        return "gunicorn master" if pid == leader else "gunicorn worker"
    if service == "nginx":
        return "nginx master" if pid == leader else "nginx worker"
    if "resource_tracker" in command:
        return f"{service} resource tracker"
    if service == "scheduler":
        return "dask scheduler" if pid == leader else "scheduler child"
    if service.startswith("worker-"):
        return f"dask {service} nanny" if pid == leader else f"dask {service}"
    return service


# -- sampling ------------------------------------------------------------------------------------

@dataclass
class Process:
    service: str
    role: str
    pid: int
    started: int                 # start time in clock ticks: with the pid, the process's identity
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since the soak's start, KiB)

    @property
    def first(self) -> float:
        return self.samples[0][0]

    @property
    def last(self) -> float:
        return self.samples[-1][0]


class Sampler(threading.Thread):
    """Every `interval` s: the RSS of every process of the stack of `run_dir`'s PID files."""

    def __init__(self, run_dir: Path, interval: float) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.run_dir = run_dir
        self.interval = interval
        self.started_at = time.monotonic()
        self.processes: dict[tuple[int, int], Process] = {}
        self.rounds: list[float] = []
        self._stopping = threading.Event()

    def leaders(self) -> dict[str, int]:
        found = {}
        for pid_file in self.run_dir.glob("*.pid"):
            if pid_file.stem == "devstack":  # the supervisor: the harness, not a service
                continue
            try:
                found[pid_file.stem] = int(pid_file.read_text())
            except (OSError, ValueError):
                continue
        return found

    def sample(self) -> None:
        now = time.monotonic() - self.started_at
        children = _children()
        for service, leader in self.leaders().items():
            for pid in _tree(leader, children):
                stat, rss = _stat(pid), _rss_kib(pid)
                if stat is None or rss is None:
                    continue
                key = (pid, stat[1])
                if key not in self.processes:
                    self.processes[key] = Process(service, role(service, pid, leader), pid, stat[1])
                self.processes[key].samples.append((now, rss))
        self.rounds.append(now)

    def run(self) -> None:
        while not self._stopping.is_set():
            self.sample()
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
        self.join()


# -- judging -------------------------------------------------------------------------------------

@dataclass
class Verdict:
    process: Process
    baseline: float | None       # KiB, the median around the baseline minute
    final: float | None          # KiB, the median of the last window
    peak: int
    note: str = ""

    @property
    def growth(self) -> float | None:
        if self.baseline is None or self.final is None or not self.baseline:
            return None
        return (self.final - self.baseline) / self.baseline * 100


def judge(processes: list[Process], t0: float, minutes: float, baseline_minute: float, window: float,
          interval: float) -> list[Verdict]:
    early = (t0 + baseline_minute * 60 - window / 2, t0 + baseline_minute * 60 + window / 2)
    late = (t0 + minutes * 60 - window, t0 + minutes * 60)
    verdicts = []
    for process in processes:
        def median(bounds: tuple[float, float], p: Process = process) -> float | None:
            values = [rss for t, rss in p.samples if bounds[0] <= t <= bounds[1]]
            return statistics.median(values) if values else None

        verdict = Verdict(process, median(early), median(late), max(rss for _, rss in process.samples))
        if process.first > early[0] + interval:
            verdict.note = f"appeared at {(process.first - t0) / 60:.1f} min"
        elif process.last < late[1] - interval:
            verdict.note = f"exited at {(process.last - t0) / 60:.1f} min"
        verdicts.append(verdict)
    return verdicts


def _mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def table(verdicts: list[Verdict], baseline_minute: float, minutes: float, max_growth: float) -> str:
    header = (f"{'service':10} {'process':26} {'pid':>7} {'min ' + f'{baseline_minute:g}':>8} "
              f"{'min ' + f'{minutes:g}':>8} {'growth':>8} {'peak':>7}  {'samples':>7}  note")
    lines = [header, "-" * len(header)]
    for v in sorted(verdicts, key=lambda v: (v.process.service, v.process.role, v.process.pid)):
        growth = "-" if v.growth is None else f"{v.growth:+.1f}%"
        flag = " OVER" if v.growth is not None and v.growth > max_growth else ""
        lines.append(f"{v.process.service:10} {v.process.role:26} {v.process.pid:>7} {_mib(v.baseline):>8} "
                     f"{_mib(v.final):>8} {growth:>8} {_mib(v.peak):>7}  {len(v.process.samples):>7}  "
                     f"{v.note}{flag}")
    lines.append("(RSS in MiB: the median of the samples around each minute; peak: the largest sample)")
    return "\n".join(lines)


# -- the stack -------------------------------------------------------------------------------------

def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def other_service_processes(own: set[int]) -> list[str]:
    """Gunicorn, Dask and Nginx processes on this machine that are not this soak's."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in own:
            command = _cmdline(int(entry))
            if SERVICE_PATTERN.search(command) and "soak.py" not in command:
                found.append(f"{entry} {command[:140]}")
    return found


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description="Soak: locust for N minutes against a stack of its own, sampling "
                                "the RSS of every service process; fails on 5xx or RSS growth.")
    p.add_argument("--minutes", type=float, default=10, help="locust's run time (default 10)")
    p.add_argument("--users", type=int, default=20, help="locust users (default 20)")
    p.add_argument("--spawn-rate", type=float, default=5)
    p.add_argument("--interval", type=float, default=10, help="seconds between RSS samples (default 10)")
    p.add_argument("--max-growth", type=float, default=10, help="percent of RSS growth allowed (default 10)")
    p.add_argument("--baseline-minute", type=float,
                   help="the minute growth is measured from (default 2, or a third of shorter runs)")
    p.add_argument("--window", type=float, default=60,
                   help="seconds of samples whose median is taken at each end (default 60)")
    p.add_argument("--allow-restarts", action="store_true",
                   help="report processes that exited or appeared during the run instead of failing")
    p.add_argument("--max-requests", type=int, default=0,
                   help="GUNICORN_MAX_REQUESTS of the soak's stack (default 0: workers are not recycled); "
                        "above 0, replaced Gunicorn workers are reported, not failed")
    p.add_argument("--var", type=Path, default=ROOT / "var" / "soak", help="the soak stack's var dir")
    p.add_argument("--reports", type=Path, help="default: <var>/reports")
    p.add_argument("--stop-timeout", default="120", help="seconds the users get at the end (run.py's)")
    p.add_argument("--stack-python", default=os.environ.get("YBB_STACK_PYTHON", str(ROOT / ".venv" / "bin" / "python")))
    p.add_argument("--locust-python", default=os.environ.get("YBB_LOCUST_PYTHON"),
                   help="the locust virtualenv's Python (default: .venv-locust/bin/python, else this one)")
    args = p.parse_args(argv)
    if args.baseline_minute is None:
        args.baseline_minute = min(2.0, args.minutes / 3)
    if args.baseline_minute * 60 + args.window / 2 > args.minutes * 60 - args.window:
        p.error("the baseline window overlaps the last one: use more --minutes, or a smaller --window or "
                "--baseline-minute")
    args.reports = args.reports or args.var / "reports"
    return args, extra


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    var: Path = args.var.resolve()
    run_dir = var / "run"
    env = {**os.environ, "YBB_VAR_DIR": str(var), "PYTHONUNBUFFERED": "1",
           "GUNICORN_MAX_REQUESTS": str(args.max_requests),
           **dict(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES))), strict=True))}
    devstack = [args.stack_python, str(ROOT / "scripts" / "devstack.py")]
    if any(_stat(int(p.read_text())) for p in run_dir.glob("*.pid") if p.read_text().strip().isdigit()):
        print(f"a stack started from {var} is running: stop it first (YBB_VAR_DIR={var} make stop)", file=sys.stderr)
        return 2
    others = other_service_processes({os.getpid()})
    if others:
        print(f"NOTE: {len(others)} service processes of other stacks run on this machine; they are not sampled, "
              "but they share the CPU:\n  " + "\n  ".join(others), flush=True)
    for stale in ("data", "log", "run", "reports"):
        shutil.rmtree(var / stale, ignore_errors=True)
    args.reports.mkdir(parents=True, exist_ok=True)

    print(f"soak: starting a stack in {var} (API on 127.0.0.1:{env['YBB_API_PORT']}, "
          f"HTTPS on {env['YBB_HTTPS_PORT']})...", flush=True)
    if subprocess.run([*devstack, "start"], env=env, cwd=ROOT).returncode != 0:
        print("soak: the stack did not start; see its logs in " + str(var / "log"), file=sys.stderr)
        return 2
    sampler = Sampler(run_dir, args.interval)
    sampler.start()
    locust_python = args.locust_python or (
        str(ROOT / ".venv-locust" / "bin" / "python") if (ROOT / ".venv-locust" / "bin" / "python").exists()
        else sys.executable)
    command = [locust_python, str(ROOT / "loadtests" / "run.py"), "--profile", "soak", "--users", str(args.users),
               "--spawn-rate", str(args.spawn_rate), "--run-time", f"{round(args.minutes * 60)}s",
               "--stop-timeout", args.stop_timeout, "--var", str(var), "--reports", str(args.reports),
               "--stack-python", args.stack_python, "--locust-python", locust_python,
               *(["--", *extra] if extra else [])]
    t0: float | None = None
    output: list[str] = []
    code = 1
    proc = None
    try:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            output.append(line)
            if t0 is None and RAMPING in line:
                t0 = time.monotonic() - sampler.started_at
        code = proc.wait()
    except KeyboardInterrupt:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            code = proc.wait()
        print("soak: interrupted", file=sys.stderr)
    finally:
        sampler.stop()
        print("soak: stopping the stack...", flush=True)
        subprocess.run([*devstack, "stop"], env=env, cwd=ROOT)

    if t0 is None:
        print(f"soak: locust never started its users (no {RAMPING!r} line); exit code {code}", file=sys.stderr)
        return 1
    verdicts = judge(list(sampler.processes.values()), t0, args.minutes, args.baseline_minute, args.window,
                     args.interval)
    counts = SUMMARY.search("".join(output))
    requests, failures, fivexx = (int(counts.group(i)) for i in (1, 2, 3)) if counts else (None, None, None)
    write_reports(args.reports, sampler, verdicts, t0, {"requests": requests, "failures": failures, "5xx": fivexx,
                                                        "locust_exit_code": code, "users": args.users,
                                                        "minutes": args.minutes,
                                                        "gunicorn_max_requests": args.max_requests})

    recycling = f"recycled after {args.max_requests} requests" if args.max_requests else "not recycled"
    print(f"\nsoak: {args.minutes:g} min at {args.users} users (Gunicorn workers {recycling}); "
          f"{len(sampler.rounds)} samples every "
          f"{args.interval:g} s of {len(verdicts)} processes; growth from minute {args.baseline_minute:g} to "
          f"minute {args.minutes:g} (max {args.max_growth:g} %)\n")
    print(table(verdicts, args.baseline_minute, args.minutes, args.max_growth))
    print(f"\nrequests {requests}, failures {failures}, 5xx {fivexx}; reports in {args.reports}")

    problems = []
    if fivexx is None:
        problems.append("no locust summary found (did locust run?)")
    elif fivexx:
        problems.append(f"{fivexx} responses with a status >= 500")
    if code != 0:
        problems.append(f"the locust gate failed (run.py exit code {code}): see THRESHOLDS MISSED above")
    for v in verdicts:
        if v.growth is not None and v.growth > args.max_growth:
            problems.append(f"{v.process.service} {v.process.role} (pid {v.process.pid}) grew {v.growth:+.1f} % "
                            f"from {_mib(v.baseline)} to {_mib(v.final)} MiB")
        recycled = args.max_requests > 0 and v.process.role == "gunicorn worker"
        if v.note and not (args.allow_restarts or recycled):
            problems.append(f"{v.process.service} {v.process.role} (pid {v.process.pid}) {v.note}: a restart "
                            "(--allow-restarts to only report it)")
    if problems:
        print("\nSOAK FAILED:\n  " + "\n  ".join(problems), flush=True)
        return 1
    print("\nsoak passed: no 5xx, no process grew more than "
          f"{args.max_growth:g} % between minute {args.baseline_minute:g} and minute {args.minutes:g}", flush=True)
    return 0


def write_reports(directory: Path, sampler: Sampler, verdicts: list[Verdict], t0: float, run: dict) -> None:
    with open(directory / "soak-rss.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["minute", "service", "process", "pid", "rss_kib"])
        for process in sampler.processes.values():
            for t, rss in process.samples:
                writer.writerow([f"{(t - t0) / 60:.2f}", process.service, process.role, process.pid, rss])
    summary = {**run, "processes": [
        {"service": v.process.service, "process": v.process.role, "pid": v.process.pid,
         "baseline_mib": None if v.baseline is None else round(v.baseline / 1024, 1),
         "final_mib": None if v.final is None else round(v.final / 1024, 1),
         "growth_percent": None if v.growth is None else round(v.growth, 1),
         "peak_mib": round(v.peak / 1024, 1), "samples": len(v.process.samples), "note": v.note}
        for v in verdicts]}
    (directory / "soak-summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
