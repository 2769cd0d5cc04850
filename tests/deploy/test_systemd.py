"""deploy/systemd: `systemd-analyze verify` prints nothing for any unit, and the units
have the hardening and commands we promise.

verify checks that every Exec*= program exists. It runs with --root pointed at a
temporary tree (fixture `sysroot`) that holds the host's system units and programs plus
stubs for the install layout under /opt/ybb, which deploy/install.sh creates on a real
server (the venv's python, gunicorn and dask; see test_stubbed_programs_come_from_the_venv).
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from deploy_helpers import INSTALL_PREFIX, REPO, SYSTEMD_DIR, unit_executables, unit_files

UNITS = [p.name for p in unit_files()]
# the template is verified through instances (%i = 1 and a two-digit one)
VERIFIED = [u for u in UNITS if not u.endswith("@.service")] + ["ybb-dask-worker@1.service", "ybb-dask-worker@12.service"]
SERVICES = [u for u in UNITS if u.endswith(".service")]
LONG_RUNNING = ["ybb-api.service", "ybb-dask-scheduler.service", "ybb-dask-worker@.service"]


def read(unit: str) -> str:
    return (SYSTEMD_DIR / unit).read_text()


def directives(unit: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in read(unit).splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def verify(systemd_analyze, root, *units):
    return subprocess.run(
        [systemd_analyze, "verify", f"--root={root}", *units],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "SYSTEMD_LOG_COLOR": "0"},
    )


def test_expected_units_exist():
    assert set(UNITS) >= {
        "ybb-api.service", "ybb-dask-scheduler.service", "ybb-dask-worker@.service",
        "ybb-sweeper.service", "ybb-sweeper.timer", "ybb.target",
    }


@pytest.mark.parametrize("unit", VERIFIED)
def test_systemd_analyze_verify_prints_nothing(systemd_analyze, sysroot, unit):
    result = verify(systemd_analyze, sysroot, unit)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr == "", result.stdout + result.stderr


def test_verify_would_report_problems(systemd_analyze, sysroot, tmp_path):
    """Negative control: the same harness prints warnings for a broken unit."""
    root = tmp_path / "root"
    shutil.copytree(sysroot, root, symlinks=True)
    unit = root / "etc/systemd/system/ybb-api.service"
    text = unit.read_text().replace("Restart=on-failure", "Restart=sometimes")
    text = text.replace("[Service]\n", "[Service]\nExecStartPre=/usr/bin/ybb-no-such-program\nNoSuchKey=1\n")
    unit.write_text(text)
    result = verify(systemd_analyze, root, "ybb-api.service")
    output = result.stdout + result.stderr
    assert "Failed to parse service restart specifier" in output
    assert "Unknown key" in output and "NoSuchKey" in output
    assert "/usr/bin/ybb-no-such-program is not executable" in output


def test_stubbed_programs_come_from_the_venv():
    """The only programs the verify root stubs are the venv's, which install.sh creates
    from requirements.txt: python itself, gunicorn and dask (package distributed)."""
    stubbed = set()
    for unit in unit_files():
        stubbed |= {p for p in unit_executables(unit.read_text()) if p.startswith(INSTALL_PREFIX)}
    assert stubbed == {"/opt/ybb/.venv/bin/gunicorn", "/opt/ybb/.venv/bin/dask", "/opt/ybb/.venv/bin/python"}
    requirements = (REPO / "requirements.txt").read_text().lower()
    assert "\ngunicorn==" in requirements and "\ndistributed==" in requirements and "\ndask==" in requirements
    install = (REPO / "deploy" / "install.sh").read_text()
    assert 'VENV="$PREFIX/.venv"' in install and "PREFIX=/opt/ybb" in install
    assert '-m venv "$VENV"' in install and '-r "$PREFIX/requirements.txt"' in install


@pytest.mark.parametrize("unit", SERVICES)
def test_service_hardening(unit):
    d = directives(unit)
    assert d["User"] == ["ybb"] and d["Group"] == ["ybb"]
    assert d["NoNewPrivileges"] == ["yes"]
    assert d["ProtectSystem"] == ["strict"]
    assert d["PrivateTmp"] == ["yes"]
    assert d["ProtectHome"] == ["yes"]
    assert d["CapabilityBoundingSet"] == [""]
    assert set(d["ReadWritePaths"][0].split()) == {"/var/lib/ybb/data", "/var/log/ybb"}
    assert "/etc/ybb/ybb.env" in d["EnvironmentFile"]
    assert d["WorkingDirectory"] == ["/opt/ybb"]
    assert "PYTHONPATH=/opt/ybb/services/api:/opt/ybb/services/scheduler" in d["Environment"]


@pytest.mark.parametrize("unit", LONG_RUNNING)
def test_long_running_services_restart(unit):
    d = directives(unit)
    # The Dask processes come back whatever their exit status (a `dask worker` exits 0 when
    # its scheduler goes away); the API on failure.
    assert d["Restart"] == (["on-failure"] if unit == "ybb-api.service" else ["always"])
    assert int(d["RestartSec"][0]) >= 1
    assert d["WantedBy"] == ["ybb.target"]
    assert "ybb.target" in d["PartOf"][0].split()


def test_workers_restart_with_their_scheduler():
    """PartOf= propagates the scheduler's stop and restart (an automatic one after a crash
    too) to the workers; After= orders them. No BindsTo=/Requires=/Wants=: those would pull a
    local scheduler into a workers-only host."""
    d = directives("ybb-dask-worker@.service")
    assert set(d["PartOf"][0].split()) == {"ybb.target", "ybb-dask-scheduler.service"}
    assert "ybb-dask-scheduler.service" in d["After"][0].split()
    for pulling in ("BindsTo", "Requires", "Requisite"):
        assert pulling not in d
    assert "ybb-dask-scheduler.service" not in " ".join(d.get("Wants", []))


def test_dask_speaks_mutual_tls():
    tls_files = {"DASK_TLS_CA_FILE=/etc/ybb/dask-tls/ca.pem", "DASK_TLS_CERT=/etc/ybb/dask-tls/cert.pem",
                 "DASK_TLS_KEY=/etc/ybb/dask-tls/key.pem"}
    for unit in ("ybb-api.service", "ybb-sweeper.service", "ybb-dask-scheduler.service", "ybb-dask-worker@.service"):
        environment = {item for line in directives(unit)["Environment"] for item in line.split()}
        assert tls_files <= environment, unit
    flags = ["--tls-ca-file", "${DASK_TLS_CA_FILE}", "--tls-cert", "${DASK_TLS_CERT}", "--tls-key", "${DASK_TLS_KEY}"]
    scheduler = directives("ybb-dask-scheduler.service")["ExecStart"][0].split()
    assert scheduler[scheduler.index("--protocol") + 1] == "tls"
    worker = directives("ybb-dask-worker@.service")
    assert "DASK_SCHEDULER_ADDRESS=tls://127.0.0.1:8786" in worker["Environment"]
    for command in (scheduler, worker["ExecStart"][0].split()):
        assert all(command[command.index(flag) + 1] == value for flag, value in zip(flags[::2], flags[1::2]))
    env_example = (SYSTEMD_DIR / "ybb.env.example").read_text()
    assert "\nDASK_SCHEDULER_ADDRESS=tls://127.0.0.1:8786\n" in env_example
    assert all(f"\n{item}\n" in env_example for item in tls_files)


def test_commands():
    assert directives("ybb-api.service")["ExecStart"] == [
        "/opt/ybb/.venv/bin/gunicorn --config /opt/ybb/services/api/gunicorn.conf.py wsgi:app"
    ]
    scheduler = directives("ybb-dask-scheduler.service")["ExecStart"][0].split()
    assert scheduler[:2] == ["/opt/ybb/.venv/bin/dask", "scheduler"]
    assert scheduler[scheduler.index("--port") + 1] == "8786"
    assert scheduler[scheduler.index("--dashboard-prefix") + 1] == "/dask"
    worker = directives("ybb-dask-worker@.service")["ExecStart"][0].split()
    assert worker[:3] == ["/opt/ybb/.venv/bin/dask", "worker", "${DASK_SCHEDULER_ADDRESS}"]
    for option, value in {"--nworkers": "1", "--nthreads": "${DASK_WORKER_NTHREADS}",
                          "--memory-limit": "${DASK_WORKER_MEMORY_LIMIT}", "--preload": "worker_preload"}.items():
        assert worker[worker.index(option) + 1] == value
    sweeper = directives("ybb-sweeper.service")
    assert sweeper["Type"] == ["oneshot"]
    assert sweeper["ExecStart"] == ["/opt/ybb/.venv/bin/python -m ybb_api.sweeper"]


def test_sweeper_timer_and_target():
    timer = directives("ybb-sweeper.timer")
    assert timer["OnCalendar"] and timer["Persistent"] == ["true"]
    assert "timers.target" in timer["WantedBy"][0].split()
    target = directives("ybb.target")
    assert set(target["Wants"][0].split()) == {"ybb-api.service", "ybb-dask-scheduler.service", "ybb-sweeper.timer"}
    assert target["WantedBy"] == ["multi-user.target"]


def test_scheduler_listens_on_loopback_by_default():
    d = directives("ybb-dask-scheduler.service")
    assert "YBB_SCHEDULER_HOST=127.0.0.1" in d["Environment"]
    env_example = (SYSTEMD_DIR / "ybb.env.example").read_text()
    assert "\nYBB_SCHEDULER_HOST=127.0.0.1\n" in env_example


def test_api_and_workers_share_the_database_settings():
    """The API (plans a source export) and every worker (reads its key ranges) load the same
    EnvironmentFile, which documents the optional database variables, commented out, with
    the password as a file."""
    api = directives("ybb-api.service")["EnvironmentFile"]
    worker = directives("ybb-dask-worker@.service")["EnvironmentFile"]
    assert api == ["/etc/ybb/ybb.env"]
    assert worker[0] == "/etc/ybb/ybb.env" and all(f.startswith("-") for f in worker[1:])
    # install.sh creates /etc/ybb/ybb.env from ybb.env.example
    assert '"$PREFIX/deploy/systemd/ybb.env.example" > "$env_file"' in (REPO / "deploy" / "install.sh").read_text()
    lines = (SYSTEMD_DIR / "ybb.env.example").read_text().splitlines()
    for name in ("DB_HOST", "DB_PORT", "DB_USER", "DB_NAME", "DB_PASSWORD_FILE", "SOURCE_YBB_URL_FILE",
                 "SOURCES_DIRS", "SOURCE_MAX_ROWS", "SOURCE_STATEMENT_TIMEOUT", "SOURCE_CONNECT_TIMEOUT"):
        assert any(line.startswith(f"#{name}=") for line in lines), name
        # optional: never set by default (source exports answer 503 source_not_configured)
        assert not any(line.startswith(f"{name}=") for line in lines), name
    assert "#DB_PASSWORD_FILE=/etc/ybb/db_password" in lines
    assert not any(line.lstrip("#").startswith("DB_PASSWORD=") for line in lines)


def test_worker_threads_and_memory_from_the_env_file():
    """The unit's defaults (2 threads, 1GiB) are Environment= values that /etc/ybb/ybb.env or
    worker-N.env override (EnvironmentFile= wins over Environment=); ybb.env.example lists
    them, and MemoryMax stays above the default Dask limit."""
    d = directives("ybb-dask-worker@.service")
    environment = {item for line in d["Environment"] for item in line.split()}
    assert {"DASK_WORKER_NTHREADS=2", "DASK_WORKER_MEMORY_LIMIT=1GiB"} <= environment
    assert d["EnvironmentFile"][0] == "/etc/ybb/ybb.env"
    assert d["MemoryMax"] == ["1536M"]
    lines = (SYSTEMD_DIR / "ybb.env.example").read_text().splitlines()
    assert "DASK_WORKER_NTHREADS=2" in lines and "DASK_WORKER_MEMORY_LIMIT=1GiB" in lines
    # nothing is hard-coded any more
    worker = d["ExecStart"][0]
    assert "--nthreads 2" not in worker and "--memory-limit 1GiB" not in worker


def test_env_example_documents_the_job_store():
    """The job store settings are commented out (SQLite on one host) and say why PostgreSQL is
    needed on several; the URL goes in a file."""
    text = (SYSTEMD_DIR / "ybb.env.example").read_text()
    lines = text.splitlines()
    assert "#JOB_STORE_URL_FILE=/etc/ybb/job_store_url" in lines
    assert not any(line.startswith(("JOB_STORE_URL=", "JOB_STORE_URL_FILE=")) for line in lines)
    assert "never be on NFS" in text
