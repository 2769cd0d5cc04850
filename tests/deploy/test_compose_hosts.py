"""Several hosts with Compose: compose.multihost.yml (host 1: nginx, API, scheduler,
PostgreSQL) and compose.worker-host.yml (hosts 2..n: workers only). Both share a PostgreSQL
job store, the data directory on NFS, the Dask TLS files and the API keys file; neither may
fall back to SQLite."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deploy_helpers import COMPOSE_FILE, MULTIHOST, MULTIHOST_FILE, SECRETS, WORKER_HOST, WORKER_HOST_FILE

DASK_TLS_SECRETS = ["dask_tls_ca", "dask_tls_cert", "dask_tls_key"]
JOB_STORE_USERS = {"api", "worker", "sweeper"}
WORKER_HOST_ENV_EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "worker-host.env.example"


def files(*paths: Path) -> list[str]:
    return [arg for p in paths for arg in ("-f", str(p))]


def assert_nfs_volume(volume: dict, env: dict[str, str]) -> None:
    assert volume["driver"] == "local"
    opts = volume["driver_opts"]
    assert opts["type"] == "nfs"
    assert opts["o"].startswith(f"addr={env['NFS_SERVER']},")
    assert opts["device"] == f":{env['NFS_EXPORT']}"


# -- host 1 of several ------------------------------------------------------------------------

def test_multihost_requires_a_postgresql_job_store(run_compose):
    env = {k: v for k, v in {**SECRETS, **MULTIHOST}.items() if k != "JOB_STORE_URL_FILE"}
    result = run_compose(*files(COMPOSE_FILE, MULTIHOST_FILE), "config", "-q", **env)
    assert result.returncode != 0
    assert "required variable JOB_STORE_URL_FILE is missing a value" in result.stderr
    assert "cannot be SQLite" in result.stderr


@pytest.mark.parametrize("unset", ["HOST_PRIVATE_ADDRESS", "NFS_SERVER", "NFS_EXPORT"])
def test_multihost_requires_its_addresses(run_compose, unset):
    env = {k: v for k, v in {**SECRETS, **MULTIHOST}.items() if k != unset}
    result = run_compose(*files(COMPOSE_FILE, MULTIHOST_FILE), "--profile", "postgres", "config", "-q", **env)
    assert result.returncode != 0
    assert f"required variable {unset} is missing a value" in result.stderr


def test_multihost_job_store_and_data_directory(multihost_config, repo):
    config = multihost_config
    assert config["secrets"]["job_store_url"]["file"] == str(repo / "secrets" / "job_store_url")
    for name in JOB_STORE_USERS:
        assert config["services"][name]["environment"]["JOB_STORE_URL_FILE"] == "/run/secrets/job_store_url", name
    assert_nfs_volume(config["volumes"]["ybb-data"], MULTIHOST)
    assert "sqlite" not in json.dumps(config).lower()


def test_multihost_publishes_scheduler_and_postgres_on_the_private_address_only(multihost_config):
    services = multihost_config["services"]
    published = {name: svc["ports"] for name, svc in services.items() if svc.get("ports")}
    assert set(published) == {"nginx", "grafana", "scheduler", "postgres"}
    for name, target in (("scheduler", 8786), ("postgres", 5432)):
        assert [(p["host_ip"], p["target"], p["published"]) for p in published[name]] == \
            [(MULTIHOST["HOST_PRIVATE_ADDRESS"], target, str(target))], name
    # no worker containers on the compose network: other hosts could not reach them
    assert services["worker"]["deploy"]["replicas"] == 0
    # the dashboards stay internal
    assert all(p["target"] not in (8787, 8788) for ports in published.values() for p in ports)


# -- a worker host ------------------------------------------------------------------------------

@pytest.mark.parametrize("unset, message", [
    ("JOB_STORE_URL_FILE", "a worker host cannot use SQLite"),
    ("DASK_SCHEDULER_ADDRESS", "the scheduler's address on host 1"),
    ("WORKER_HOST_ADDRESS", "this host's private-network address"),
    ("API_KEYS_FILE", "copy of the API keys file"),
    ("NFS_SERVER", "NFS server"),
])
def test_worker_host_requires(run_compose, unset, message):
    env = {k: v for k, v in WORKER_HOST.items() if k != unset}
    result = run_compose(*files(WORKER_HOST_FILE), "config", "-q", **env)
    assert result.returncode != 0
    assert f"required variable {unset} is missing a value" in result.stderr
    assert message in result.stderr


def test_worker_host_runs_workers_only_with_no_sqlite_path(worker_host_config):
    config = worker_host_config
    assert set(config["services"]) == {"worker"}
    worker = config["services"]["worker"]
    env = worker["environment"]
    # the job store is always the PostgreSQL URL file: no SQLite fallback, no path to one
    assert env["JOB_STORE_URL_FILE"] == "/run/secrets/job_store_url"
    assert "JOB_STORE_URL" not in env
    assert "sqlite" not in json.dumps(config).lower()
    assert config["secrets"]["job_store_url"]["file"].endswith("/secrets/job_store_url")
    assert [s["source"] for s in worker["secrets"]] == \
        ["api_keys", "db_password", "job_store_url", *DASK_TLS_SECRETS]
    assert env["API_KEYS_FILE"] == "/run/secrets/api_keys"
    assert (env["DASK_TLS_CA_FILE"], env["DASK_TLS_CERT"], env["DASK_TLS_KEY"]) == \
        tuple(f"/run/secrets/{s}" for s in DASK_TLS_SECRETS)
    assert "SECRET_KEY" not in env and "SECRET_KEY_FILE" not in env


def test_worker_host_joins_the_remote_scheduler_over_tls(worker_host_config):
    worker = worker_host_config["services"]["worker"]
    command = worker["command"]
    assert command[:3] == ["dask", "worker", WORKER_HOST["DASK_SCHEDULER_ADDRESS"]]
    assert worker["environment"]["DASK_SCHEDULER_ADDRESS"] == WORKER_HOST["DASK_SCHEDULER_ADDRESS"]
    for flag, secret in zip(("--tls-ca-file", "--tls-cert", "--tls-key"), DASK_TLS_SECRETS, strict=True):
        assert command[command.index(flag) + 1] == f"/run/secrets/{secret}"
    # reachable from the other hosts at this host's address, on fixed port ranges
    assert worker["network_mode"] == "host"
    assert command[command.index("--host") + 1] == WORKER_HOST["WORKER_HOST_ADDRESS"]
    assert command[command.index("--worker-port") + 1] == "40000:40099"
    assert command[command.index("--nanny-port") + 1] == "40100:40199"
    assert command[command.index("--preload") + 1] == "worker_preload"
    # the dashboard and health check on loopback only
    assert command[command.index("--dashboard-address") + 1] == "127.0.0.1:8788"
    assert worker["environment"]["YBB_HEALTHCHECK_URL"] == "http://127.0.0.1:8788/health"
    assert worker["healthcheck"]["test"][:3] == ["CMD", "python", "-c"]
    assert worker["cap_drop"] == ["ALL"] and worker["restart"] == "unless-stopped"
    assert "ports" not in worker


def test_worker_host_threads_and_memory_from_env(run_compose):
    result = run_compose(*files(WORKER_HOST_FILE), "config", "--format", "json", **WORKER_HOST,
                         DASK_WORKER_PROCESSES="4", DASK_WORKER_NTHREADS="3", DASK_WORKER_MEMORY_LIMIT="2GiB",
                         WORKER_HOST_MEMORY_MAX="12G")
    assert result.returncode == 0, result.stderr
    worker = json.loads(result.stdout)["services"]["worker"]
    command = worker["command"]
    assert command[command.index("--nworkers") + 1] == "4"
    assert command[command.index("--nthreads") + 1] == "3"
    assert command[command.index("--memory-limit") + 1] == "2GiB"
    assert worker["deploy"]["resources"]["limits"]["memory"] == str(12 * 2**30)


def test_worker_host_mounts_the_shared_data_directory_and_logs(worker_host_config):
    config = worker_host_config
    worker = config["services"]["worker"]
    mounts = {v["target"]: v for v in worker["volumes"]}
    assert mounts["/data"]["source"] == "ybb-data" and worker["environment"]["DATA_DIR"] == "/data"
    assert mounts["/var/log/ybb"]["source"] == "ybb-logs" and worker["environment"]["LOG_DIR"] == "/var/log/ybb"
    assert_nfs_volume(config["volumes"]["ybb-data"], WORKER_HOST)


def test_worker_host_env_example(run_compose, tmp_path):
    """deploy/worker-host.env.example as copied to .env selects compose.worker-host.yml and
    refuses until its host-specific values are filled in."""
    text = WORKER_HOST_ENV_EXAMPLE.read_text()
    assert "\nCOMPOSE_FILE=compose.worker-host.yml\n" in text
    result = run_compose("config", "-q", env_file=WORKER_HOST_ENV_EXAMPLE)
    assert result.returncode != 0 and "is missing a value" in result.stderr
    filled = text
    for name in ("DASK_SCHEDULER_ADDRESS", "WORKER_HOST_ADDRESS", "NFS_SERVER"):
        assert f"\n{name}=\n" in filled, name
        filled = filled.replace(f"\n{name}=\n", f"\n{name}={WORKER_HOST[name]}\n")
    env_file = tmp_path / ".env"
    env_file.write_text(filled)
    result = run_compose("config", "--format", "json", env_file=env_file)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["name"] == "ybb-worker" and set(config["services"]) == {"worker"}
    assert config["services"]["worker"]["environment"]["JOB_STORE_URL_FILE"] == "/run/secrets/job_store_url"


def test_hosts_run_the_same_engine_image(worker_host_config, prod_config):
    assert worker_host_config["services"]["worker"]["image"] == prod_config["services"]["worker"]["image"]
    assert worker_host_config["services"]["worker"]["build"]["dockerfile"] == "services/scheduler/Dockerfile"


def test_lint_validates_every_compose_file(repo):
    lint = (repo / "scripts" / "lint_deploy.sh").read_text()
    for combination in ('"-f docker-compose.yml"', '"-f docker-compose.yml -f compose.override.yml"',
                        '"-f docker-compose.yml -f compose.multihost.yml"', '"-f compose.worker-host.yml"'):
        assert combination in lint, combination
    assert re.search(r"--profile monitoring --profile postgres config -q", lint)


def test_docs_describe_the_topology_and_adding_a_worker_host(repo):
    text = (repo / "docs" / "deploy.md").read_text()
    for heading in ("### 4.1 Topology: what runs where, what is shared", "### 4.3 Add a worker host with Compose",
                    "### 4.4 Several hosts with systemd (add a worker host)", "## 5. Backups"):
        assert heading in text, heading
    # the old note said to scale up until a networked job store exists: it does now
    assert "Until a networked job store exists" not in text
    assert "Never SQLite on shared storage" in text
    for name in ("compose.multihost.yml", "compose.worker-host.yml", "deploy/worker-host.env.example",
                 "install.sh --worker-only", "pg_dump", "JOB_STORE_URL_FILE", "DASK_WORKER_NTHREADS"):
        assert name in text, name
