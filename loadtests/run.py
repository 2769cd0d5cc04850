"""Run the load tests headless and gate on the thresholds (`make loadtest`, `make loadtest-quick`).

    .venv-locust/bin/python loadtests/run.py              # default profile: 20 users, 2 minutes
    .venv-locust/bin/python loadtests/run.py --quick      # 20 users, 30 s
    .venv-locust/bin/python loadtests/run.py --host https://ybb.example.org --ca-cert system \\
        --api-key-file key.txt --users 50 --run-time 5m
    .venv-locust/bin/python loadtests/run.py -- --tags php_small_sync   # anything after -- goes to locust

Without --host it targets the local stack (scripts/devstack.py: ports and var dir from the same
environment variables as `make run`): when /health/ready does not answer it starts the stack with
`python scripts/devstack.py start` and stops it at the end. It makes a second API key for the
abuse scenario (var/loadtest-abuse-key) so that its bursts don't spend the honest users' per-key
budget. Reports: var/reports/loadtest-<profile>_*.csv and .html. The exit code is locust's,
which the locustfile's gate sets: non-zero when a threshold in loadtests/thresholds.toml is missed.

This script does not import locust: it runs it as a child process (gevent patches the standard
library). The locustfile imports no project code: it is a black-box client of the API, and its
records come from loadtests/records.py. This runner imports scripts/devstack.py (stdlib only)
for the local stack's ports and paths, and runs it to start and stop that stack.
"""
from __future__ import annotations

import argparse
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from devstack import StackConfig, find_nginx  # noqa: E402  (stdlib only at import time)

PROFILES = {
    # name: (users, spawn rate per second, run time, extra locust options)
    "default": (20, 5, "2m", []),
    "quick": (20, 5, "30s", []),
    # The smoke run of tests/loadtests/test_locust_smoke.py on the test stack (SYNC_MAX_ROWS=100,
    # PARTITION_ROWS=500): one user per scenario, small large/batched exports, latency
    # thresholds relaxed. The failure and 5xx gates still apply.
    "smoke": (6, 6, "12s", ["--one-of-each", "--large-rows", "2000", "--batches", "2", "--batch-rows", "1000",
                            "--php-mode", "sync", "--relaxed-thresholds"]),
    # loadtests/soak.py (`make soak`): the default mix for 10 minutes; it gates on memory, 5xx
    # and failures, so the latency thresholds (a 2-minute run's) are relaxed.
    "soak": (20, 5, "10m", ["--relaxed-thresholds"]),
}


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description="Run the YBB load tests headless and gate on loadtests/thresholds.toml.")
    profile = p.add_mutually_exclusive_group()
    profile.add_argument("--profile", choices=sorted(PROFILES), default="default")
    profile.add_argument("--quick", dest="profile", action="store_const", const="quick", help="= --profile quick")
    profile.add_argument("--smoke", dest="profile", action="store_const", const="smoke", help="= --profile smoke")
    p.add_argument("--host", help="target this base URL instead of the local stack (nothing is started)")
    p.add_argument("--users", "-u", type=int, help="override the profile's users")
    p.add_argument("--spawn-rate", "-r", type=float, help="override the profile's spawn rate (users per second)")
    p.add_argument("--run-time", "-t", help="override the profile's run time (e.g. 90s, 5m)")
    p.add_argument("--stop-timeout", default="120",
                   help="seconds the users get at the end to finish the export in hand (default 120)")
    p.add_argument("--ca-cert", help="CA bundle that verifies the server ('system': certifi's). Default: the local "
                   "stack's certificate, or 'system' with --host")
    p.add_argument("--api-key-file", help="default: <var>/dev-api-key; or set YBB_LOADTEST_API_KEY")
    p.add_argument("--abuse-key-file", help="default: <var>/loadtest-abuse-key, created for the local stack; "
                   "or set YBB_LOADTEST_ABUSE_KEY; without one, with --host, the abuse user sends no key")
    p.add_argument("--var", type=Path, help="the stack's var dir (default: YBB_VAR_DIR or var)")
    p.add_argument("--reports", type=Path, default=ROOT / "var" / "reports", help="where the CSV and HTML reports go")
    p.add_argument("--relaxed-thresholds", action="store_true", help="skip the latency thresholds (not the failure gates)")
    p.add_argument("--verbose", action="store_true", help="print locust's stats table every few seconds")
    p.add_argument("--locust-python", default=os.environ.get("YBB_LOCUST_PYTHON"),
                   help="the Python of the locust virtualenv (default: .venv-locust/bin/python, else this one)")
    p.add_argument("--stack-python", default=os.environ.get("YBB_STACK_PYTHON", str(ROOT / ".venv" / "bin" / "python")),
                   help="the project's Python, to start the stack and make keys")
    return p.parse_args(argv), extra


def ready(base_url: str, cafile: Path | None) -> bool:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile and cafile.exists() else None
    if base_url.startswith("https") and context is None:
        return False
    try:
        with urllib.request.urlopen(f"{base_url}/health/ready", timeout=5, context=context) as response:
            return response.status == 200
    except OSError:
        return False


def abuse_key(config: StackConfig, stack_python: str) -> Path:
    """A second key (tenant loadtest-abuse) for the abuse scenario, made once per var dir."""
    path = config.var / "loadtest-abuse-key"
    if not path.exists():
        env = {**os.environ, "YBB_VAR_DIR": str(config.var)}
        key = subprocess.run([stack_python, str(ROOT / "scripts" / "devstack.py"), "key", "loadtest-abuse"],
                             env=env, check=True, capture_output=True, text=True).stdout.strip()
        path.write_text(key + "\n")
        path.chmod(0o600)
    return path


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    users, spawn_rate, run_time, profile_options = PROFILES[args.profile]
    users = args.users or users
    spawn_rate = args.spawn_rate or spawn_rate
    run_time = args.run_time or run_time

    started_stack = False
    config = StackConfig.from_env()
    if args.var:
        config.var = args.var
    config.use_nginx = find_nginx() is not None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    stack_env = {**os.environ, "YBB_VAR_DIR": str(config.var)}
    options: list[str] = []
    if args.host:
        host = args.host.rstrip("/")
        options += ["--ca-cert", args.ca_cert or "system"]
        if args.api_key_file:
            options += ["--api-key-file", args.api_key_file]
        if args.abuse_key_file:
            options += ["--abuse-key-file", args.abuse_key_file]
    else:
        host = config.base_url
        if not config.use_nginx:
            print("WARNING: nginx is missing: the stack serves the API without TLS or rate limits, so the abuse "
                  "scenario cannot meet 429s. Install nginx (make run does, as root).", file=sys.stderr)
        if not ready(host, config.cert):
            print(f"no stack answers at {host}: starting one (scripts/devstack.py start)...", flush=True)
            subprocess.run([args.stack_python, str(ROOT / "scripts" / "devstack.py"), "start"], env=stack_env,
                           check=True)
            started_stack = True
        options += ["--ca-cert", args.ca_cert or str(config.cert),
                    "--api-key-file", args.api_key_file or str(config.var / "dev-api-key"),
                    "--abuse-key-file", args.abuse_key_file or str(abuse_key(config, args.stack_python))]

    name = f"loadtest-{args.profile}"
    args.reports.mkdir(parents=True, exist_ok=True)
    locust_python = args.locust_python or (
        str(ROOT / ".venv-locust" / "bin" / "python") if (ROOT / ".venv-locust" / "bin" / "python").exists()
        else sys.executable)
    command = [
        locust_python, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
        "--host", host, "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", run_time,
        "--stop-timeout", args.stop_timeout, "--csv", str(args.reports / name), "--html",
        str(args.reports / f"{name}.html"), "--json-file", str(args.reports / name),  # locust adds .json
        *([] if args.verbose else ["--only-summary"]),
        *profile_options, *(["--relaxed-thresholds"] if args.relaxed_thresholds else []), *options, *extra,
    ]
    print(f"locust: {users} users, {run_time}, against {host}; reports in {args.reports}/{name}*", flush=True)
    proc = None
    try:
        proc = subprocess.Popen(command, env=env, cwd=ROOT)
        code = proc.wait()
    except KeyboardInterrupt:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            code = proc.wait()
        else:
            code = 130
    finally:
        if started_stack:
            print("stopping the stack this run started (scripts/devstack.py stop)...", flush=True)
            subprocess.run([args.stack_python, str(ROOT / "scripts" / "devstack.py"), "stop"], env=stack_env)
    print(f"load test {'passed' if code == 0 else f'FAILED (exit code {code})'}; "
          f"reports: {args.reports / name}.html, {args.reports / name}_stats.csv", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
