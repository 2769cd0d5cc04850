"""Beyond one host (issue 17): the API, Nginx, the scheduler and PostgreSQL (the job store) on
this host; a Dask worker on a second host, a network namespace joined by a veth pair, which
reaches the scheduler (over Dask's TLS) and PostgreSQL only through the veth addresses. The
data directory is shared, as an NFS mount at the same path would be.

1. With only the remote worker connected, an export completes: its tasks ran there.
2. With a local worker added, the remote worker is killed (frozen first, while it holds the
   export's tasks) and the local worker still writes the complete file.
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from databases import PostgresServer
from distributed import Client
from netns import NamespaceUnavailable, SecondHost
from python_calamine import CalamineWorkbook
from support import free_port, wait_for
from worker_kill import job_tasks, released_tasks, workers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COLUMNS = [{"field": "n", "header": "N", "type": "integer"}, {"field": "city", "header": "City", "type": "string"}]


@pytest.fixture(scope="module")
def second_host() -> Iterator[SecondHost]:
    try:
        host = SecondHost.create()
    except NamespaceUnavailable as exc:
        pytest.skip(f"network namespaces cannot be made here, so there is no second host: {exc}")
    yield host
    host.remove()


@pytest.fixture(scope="module")
def job_store(second_host: SecondHost, tmp_path_factory) -> Iterator[PostgresServer]:
    with PostgresServer.start(tmp_path_factory.mktemp("jobstore"), listen=(second_host.host_address,)) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(second_host: SecondHost, job_store: PostgresServer, tmp_path_factory) -> Iterator[dict]:
    from devstack import Stack, StackConfig

    store_url = (f"postgresql://{job_store.admin_user}:{job_store.admin_password}@{second_host.host_address}:"
                 f"{job_store.port}/{job_store.database}")
    ports = {name: free_port() for name in ("scheduler_port", "dashboard_port", "api_port", "https_port",
                                            "http_port")}
    stack = Stack(StackConfig(var=tmp_path_factory.mktemp("multihost") / "var", workers=0, gunicorn_workers=2,
                              scheduler_host=second_host.host_address, **ports,
                              extra_env={"JOB_STORE_URL": store_url, "PARTITION_ROWS": "500", "SYNC_MAX_ROWS": "0",
                                         "INLINE_MAX_ROWS": "0", "LOG_LEVEL": "warning"}))
    started: list[subprocess.Popen[bytes]] = []
    try:
        stack.start()
        log = open(stack.config.var / "log" / "remote.log", "wb")  # noqa: SIM115  (the worker's, for its lifetime)
        remote = second_host.popen(_worker_command(stack, "remote-1", second_host.address),
                                   env=stack.environment(), stdout=subprocess.DEVNULL, stderr=log)
        started.append(remote)
        stack.wait_ready()
        yield {"stack": stack, "remote": remote, "store_url": store_url, "started": started}
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        stack.stop()


def _worker_command(stack, name: str, host: str) -> list[str]:
    c = stack.config
    return [sys.executable, "-m", "dask", "worker", c.scheduler_address, "--tls-ca-file", str(c.dask_ca),
            "--tls-cert", str(c.dask_cert), "--tls-key", str(c.dask_key), "--name", name, "--host", host,
            "--nthreads", "1", "--memory-limit", "2GiB", "--no-nanny", "--dashboard-address", f"{host}:0",
            "--preload", "worker_preload"]


def _api(stack) -> tuple[requests.Session, str]:
    session = requests.Session()
    session.headers["X-API-Key"] = (stack.config.var / "dev-api-key").read_text().strip()
    return session, f"http://127.0.0.1:{stack.config.api_port}"


def _ended(session: requests.Session, url: str) -> dict | None:
    job = session.get(url).json()
    return job if job["state"] not in ("queued", "running") else None


def _rows(stack, job_id: str) -> list[list]:
    """The file, through Nginx (which serves it: USE_X_ACCEL)."""
    nginx = requests.Session()
    nginx.trust_env = False  # REQUESTS_CA_BUNDLE would replace the stack's certificate
    nginx.verify = str(stack.config.cert)
    nginx.headers["X-API-Key"] = (stack.config.var / "dev-api-key").read_text().strip()
    content = nginx.get(f"{stack.config.base_url}/api/v1/exports/{job_id}/file").content
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()


def test_the_second_host_reaches_this_one_only_through_the_veth(cluster, second_host, job_store) -> None:
    stack = cluster["stack"]
    assert second_host.reaches(second_host.host_address, stack.config.scheduler_port)
    assert second_host.reaches(second_host.host_address, job_store.port)
    assert not second_host.reaches("127.0.0.1", job_store.port)
    assert not second_host.reaches("127.0.0.1", stack.config.api_port)


def test_an_export_runs_on_the_remote_worker_and_its_job_is_in_postgres(cluster, second_host) -> None:
    stack = cluster["stack"]
    session, base = _api(stack)
    with Client(stack.config.scheduler_address, security=stack.dask_security(), set_as_default=False,
                timeout=20) as client:
        assert [w["name"] for w in workers(client).values()] == ["remote-1"]
        assert all(address.startswith(f"tls://{second_host.address}:") for address in workers(client))
    records = [{"n": i, "city": ["Jakarta", "Kairo"][i % 2]} for i in range(3_000)]
    job = session.post(f"{base}/api/v1/exports", json={"columns": COLUMNS, "records": records,
                                                       "mode": "async"}).json()
    done = wait_for(lambda: _ended(session, f"{base}/api/v1/exports/{job['id']}"), timeout=120, interval=0.2,
                    message="the export did not end")
    assert done["state"] == "succeeded", done
    assert _rows(stack, job["id"])[1:] == [[r["n"], r["city"]] for r in records]
    with psycopg.connect(cluster["store_url"]) as connection:
        state = connection.execute("SELECT state FROM jobs WHERE id = %s", (job["id"],)).fetchone()
    assert state == ("succeeded",)


def test_killing_the_remote_worker_mid_export_still_yields_a_complete_file(cluster, second_host) -> None:
    stack, remote = cluster["stack"], cluster["remote"]
    local = subprocess.Popen(_worker_command(stack, "local-1", "127.0.0.1"), env=stack.environment(),
                             stdout=subprocess.DEVNULL, stderr=open(stack.config.var / "log" / "local.log", "wb"))
    cluster["started"].append(local)
    session, base = _api(stack)
    rows = 40_000  # 80 partitions
    records = [{"n": i, "city": ["Jakarta", "Kairo", "Lagos"][i % 3]} for i in range(rows)]
    with Client(stack.config.scheduler_address, security=stack.dask_security(), set_as_default=False,
                timeout=20) as client:
        wait_for(lambda: {w["name"] for w in workers(client).values()} == {"remote-1", "local-1"}, timeout=60,
                 message="the local worker did not join")
        remote_address = next(a for a, w in workers(client).items() if w["name"] == "remote-1")
        job = session.post(f"{base}/api/v1/exports", json={"columns": COLUMNS, "records": records,
                                                           "mode": "async"}).json()
        wait_for(lambda: job_tasks(client, job["id"]).get(remote_address), timeout=60, interval=0.01,
                 message="the remote worker took none of the export's tasks")
        os.kill(remote.pid, signal.SIGSTOP)  # it holds tasks it cannot finish now
        held = wait_for(lambda: job_tasks(client, job["id"]).get(remote_address), timeout=30,
                        message="the frozen remote worker holds no task of the export")
        os.kill(remote.pid, signal.SIGKILL)
        remote.wait(10)
        done = wait_for(lambda: _ended(session, f"{base}/api/v1/exports/{job['id']}"), timeout=180, interval=0.2,
                        message="the export did not end after the remote worker was killed")
        assert done["state"] == "succeeded", done
        assert released_tasks(client, remote_address, job["id"]), f"the remote worker held {held}; none came back"
        assert [w["name"] for w in workers(client).values()] == ["local-1"]
    assert _rows(stack, job["id"])[1:] == [[r["n"], r["city"]] for r in records]
    assert Path(stack.config.data_dir).is_dir()
