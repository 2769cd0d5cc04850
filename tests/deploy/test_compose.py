"""docker-compose.yml and compose.override.yml: `docker compose config` validates them
quietly, and the parsed, fully resolved configuration has the structure we promise."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from deploy_helpers import (
    COMPOSE_FILE,
    MULTIHOST,
    MULTIHOST_FILE,
    OVERRIDE_FILE,
    SECRETS,
    WORKER_HOST,
    WORKER_HOST_FILE,
)

YBB_SERVICES = {"api", "scheduler", "worker", "sweeper"}
DEFAULT_SERVICES = YBB_SERVICES | {"nginx"}
MONITORING_SERVICES = {"prometheus", "alertmanager", "grafana"}
DATA_USERS = {"api", "worker", "sweeper"}
# The processes that open the job store (SQLite in DATA_DIR, or PostgreSQL).
JOB_STORE_USERS = {"api", "worker", "sweeper"}


def files(*paths: Path) -> list[str]:
    return [arg for p in paths for arg in ("-f", str(p))]


STACKS = {
    "production": ((COMPOSE_FILE,), SECRETS),
    "development": ((COMPOSE_FILE, OVERRIDE_FILE), SECRETS),
    "multihost": ((COMPOSE_FILE, MULTIHOST_FILE), {**SECRETS, **MULTIHOST}),
    "worker-host": ((WORKER_HOST_FILE,), WORKER_HOST),
}


@pytest.mark.parametrize("stack", list(STACKS))
@pytest.mark.parametrize("profiles", [(), ("monitoring",), ("postgres",), ("monitoring", "postgres")],
                         ids=["default", "monitoring", "postgres", "all"])
def test_config_validates_quietly(run_compose, stack, profiles):
    paths, env = STACKS[stack]
    profile_args = [arg for p in profiles for arg in ("--profile", p)]
    result = run_compose(*files(*paths), *profile_args, "config", "-q", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", (result.stdout, result.stderr)


@pytest.mark.parametrize(
    "unset, message",
    [
        ("SECRET_KEY_FILE", "SECRET_KEY_FILE must name the host file holding the secret key"),
        ("API_KEYS_FILE", "API_KEYS_FILE must name the host file of hashed API keys"),
    ],
)
def test_required_secret_missing_fails(run_compose, unset, message):
    env = {k: v for k, v in SECRETS.items() if k != unset}
    result = run_compose(*files(COMPOSE_FILE), "config", "-q", **env)
    assert result.returncode != 0
    assert f"required variable {unset} is missing a value" in result.stderr
    assert message in result.stderr


def test_empty_secret_counts_as_missing(run_compose):
    result = run_compose(*files(COMPOSE_FILE), "config", "-q", SECRET_KEY_FILE="", API_KEYS_FILE="x.json")
    assert result.returncode != 0
    assert "SECRET_KEY_FILE must name" in result.stderr


def test_env_example_is_production_and_demands_a_secret(run_compose, repo, tmp_path):
    # .env.example as copied to .env: SECRET_KEY_FILE is empty, so compose refuses ...
    example = repo / ".env.example"
    result = run_compose("config", "-q", env_file=example)
    assert result.returncode != 0
    assert "SECRET_KEY_FILE must name" in result.stderr
    # ... and once it is set, its COMPOSE_FILE selects docker-compose.yml only (no dev override).
    filled = tmp_path / ".env"
    filled.write_text(example.read_text().replace("\nSECRET_KEY_FILE=\n", "\nSECRET_KEY_FILE=./secrets/secret_key\n"))
    result = run_compose("config", "--format", "json", env_file=filled)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    api = config["services"]["api"]
    assert api["environment"]["YBB_ENV"] == "production"
    assert "ports" not in api
    # the key itself never reaches the environment: a file, the compose secret secret_key
    assert "SECRET_KEY" not in api["environment"]
    assert api["environment"]["SECRET_KEY_FILE"] == "/run/secrets/secret_key"
    assert config["secrets"]["secret_key"]["file"] == str(repo / "secrets" / "secret_key")
    assert not re.search(r"^SECRET_KEY=", example.read_text(), re.MULTILINE)


def test_default_services_and_profiles(prod_config_default_profile, prod_config):
    assert set(prod_config_default_profile["services"]) == DEFAULT_SERVICES
    assert set(prod_config["services"]) == DEFAULT_SERVICES | MONITORING_SERVICES | {"postgres"}
    for name in MONITORING_SERVICES:
        assert prod_config["services"][name]["profiles"] == ["monitoring"], name
    assert prod_config["services"]["postgres"]["profiles"] == ["postgres"]


def test_only_nginx_publishes_ports(prod_config):
    """nginx on every address; Grafana on the host's loopback only (an SSH tunnel away)."""
    published = {name: svc["ports"] for name, svc in prod_config["services"].items() if svc.get("ports")}
    assert set(published) == {"nginx", "grafana"}
    assert sorted(p["target"] for p in published["nginx"]) == [80, 443]
    assert sorted(p["published"] for p in published["nginx"]) == ["443", "80"]
    assert [(p["host_ip"], p["target"]) for p in published["grafana"]] == [("127.0.0.1", 3000)]


def test_dev_override_publishes_only_on_loopback_and_never_the_dashboard(dev_config):
    for name, svc in dev_config["services"].items():
        for port in svc.get("ports", []):
            assert port["target"] not in (8786, 8787, 8788), (name, port)
            if name != "nginx":
                assert port.get("host_ip") == "127.0.0.1", (name, port)
    for name in YBB_SERVICES:
        assert dev_config["services"][name]["environment"]["YBB_ENV"] == "development"


def test_dask_dashboard_only_through_nginx(prod_config):
    services = prod_config["services"]
    assert services["nginx"]["environment"]["DASK_DASHBOARD_UPSTREAM"] == "scheduler:8787"
    command = services["scheduler"]["command"]
    assert command[:2] == ["dask", "scheduler"]
    assert command[command.index("--dashboard-address") + 1] == ":8787"
    # nginx proxies /dask/ unchanged, so the dashboard must live under that prefix
    assert command[command.index("--dashboard-prefix") + 1] == "/dask"
    assert "ports" not in services["scheduler"]


def test_every_service_has_a_healthcheck(prod_config):
    for name, svc in prod_config["services"].items():
        check = svc.get("healthcheck")
        assert check and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name


@pytest.mark.parametrize(
    "service, url",
    [
        ("api", "http://127.0.0.1:8000/health"),
        ("scheduler", "http://127.0.0.1:8787/dask/health"),
        ("worker", "http://127.0.0.1:8788/health"),
    ],
)
def test_http_healthchecks_use_python(prod_config, service, url):
    test = prod_config["services"][service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert url in test[3]


def test_depends_on_waits_for_health(prod_config):
    services = prod_config["services"]
    for name, svc in services.items():
        for dependency, spec in svc.get("depends_on", {}).items():
            assert spec["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in services[dependency], dependency
    assert set(services["nginx"]["depends_on"]) == {"api", "scheduler"}
    assert set(services["worker"]["depends_on"]) == {"scheduler", "postgres"}
    assert set(services["api"]["depends_on"]) == {"scheduler", "postgres"}
    assert set(services["sweeper"]["depends_on"]) == {"api", "postgres"}
    assert set(services["prometheus"]["depends_on"]) == {"api", "scheduler", "alertmanager"}
    assert set(services["grafana"]["depends_on"]) == {"prometheus"}


def test_job_store_users_wait_for_postgres_only_when_its_profile_is_on(prod_config, prod_config_default_profile):
    """With the postgres profile, api, worker and sweeper start once PostgreSQL answers
    pg_isready; without it (`required: false`) they start all the same (SQLite, or an
    external PostgreSQL)."""
    for config in (prod_config, prod_config_default_profile):
        for name in JOB_STORE_USERS:
            spec = config["services"][name]["depends_on"]["postgres"]
            assert spec == {"condition": "service_healthy", "required": False}, name
    assert "postgres" not in prod_config_default_profile["services"]
    for name, svc in prod_config["services"].items():
        if name not in JOB_STORE_USERS:
            assert "postgres" not in svc.get("depends_on", {}), name


def test_shared_data_volume(prod_config):
    assert "ybb-data" in prod_config["volumes"]
    services = prod_config["services"]
    for name, svc in services.items():
        mounts = [v for v in svc.get("volumes", []) if v.get("source") == "ybb-data"]
        if name in DATA_USERS:
            assert len(mounts) == 1 and mounts[0]["type"] == "volume", name
            assert mounts[0]["target"] == svc["environment"]["DATA_DIR"] == "/data", name
            assert not mounts[0].get("read_only"), name
        elif name == "nginx":
            # X-Accel-Redirect: same path as DATA_DIR in the app, read-only
            assert len(mounts) == 1 and mounts[0]["read_only"] is True
            assert mounts[0]["target"] == svc["environment"]["DATA_DIR"] == "/data"
        else:
            assert not mounts, name


def test_nginx_template_mounted_read_only(prod_config, repo):
    nginx = prod_config["services"]["nginx"]
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+(-alpine)?", nginx["image"]), nginx["image"]
    by_target = {v["target"]: v for v in nginx["volumes"]}
    template = by_target["/etc/nginx/templates/default.conf.template"]
    assert template["read_only"] is True
    assert Path(template["source"]) == repo / "nginx" / "templates" / "ybb.conf.template"
    assert by_target["/etc/nginx/tls"]["read_only"] is True  # certificates
    assert by_target["/var/www/certbot"]["read_only"] is True  # ACME HTTP-01 webroot
    assert nginx["environment"]["ACME_ROOT"] == "/var/www/certbot"
    assert nginx["environment"]["TLS_CERT"].startswith("/etc/nginx/tls/")
    assert nginx["environment"]["TLS_KEY"].startswith("/etc/nginx/tls/")


def test_nginx_defines_every_template_placeholder(prod_config, template_placeholders):
    environment = prod_config["services"]["nginx"]["environment"]
    assert template_placeholders - set(environment) == set()


def test_nginx_and_api_agree_on_x_accel(prod_config):
    services = prod_config["services"]
    assert services["api"]["environment"]["USE_X_ACCEL"] == "1"
    assert services["api"]["environment"]["X_ACCEL_PREFIX"] == services["nginx"]["environment"]["X_ACCEL_PREFIX"]
    assert services["nginx"]["environment"]["API_UPSTREAM"] == "api:8000"
    assert services["api"]["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"


def test_rendered_template_has_no_placeholder_left(prod_config, template_placeholders, repo):
    if not shutil.which("envsubst"):
        pytest.skip("envsubst (gettext-base) is not installed")
    import subprocess

    environment = {k: str(v) for k, v in prod_config["services"]["nginx"]["environment"].items()}
    rendered = subprocess.run(
        ["envsubst", " ".join(f"${{{name}}}" for name in sorted(environment))],
        input=(repo / "nginx/templates/ybb.conf.template").read_text(),
        env=environment, capture_output=True, text=True, check=True,
    ).stdout
    assert not re.search(r"\$\{[A-Z_]+\}", rendered)
    assert "alias /data/;" in rendered


DASK_TLS_SECRETS = ["dask_tls_ca", "dask_tls_cert", "dask_tls_key"]
DASK_TLS_FLAGS = ["--tls-ca-file", "/run/secrets/dask_tls_ca", "--tls-cert", "/run/secrets/dask_tls_cert",
                  "--tls-key", "/run/secrets/dask_tls_key"]


def test_secrets(prod_config, repo):
    assert prod_config["secrets"]["api_keys"]["file"].endswith("secrets/api_keys.json")
    assert prod_config["secrets"]["secret_key"]["file"] == str(repo / "secrets" / "secret_key")
    for name, extra in (("api", ["db_password"]), ("sweeper", [])):
        svc = prod_config["services"][name]
        assert [s["source"] for s in svc["secrets"]] == \
            ["secret_key", "api_keys", *extra, "job_store_url", *DASK_TLS_SECRETS]
        assert svc["environment"]["API_KEYS_FILE"] == "/run/secrets/api_keys"
        # SECRET_KEY as a file: the code reads SECRET_KEY_FILE (ybb_engine.settings.env)
        assert "SECRET_KEY" not in svc["environment"], name
        mount = next(s for s in svc["secrets"] if s["source"] == "secret_key")
        assert svc["environment"]["SECRET_KEY_FILE"] == mount["target"] == "/run/secrets/secret_key"
    for name, svc in prod_config["services"].items():
        env = svc.get("environment", {})
        assert "SECRET_KEY" not in env, name
        if name not in ("api", "sweeper"):
            assert "SECRET_KEY_FILE" not in env, name
            assert "secret_key" not in [s["source"] for s in svc.get("secrets", [])], name


def test_required_secrets_are_files_with_a_required_path(repo):
    """The secret key's path is `${SECRET_KEY_FILE:?...}` like API_KEYS_FILE's, and no
    service gets a secret as an environment value."""
    text = (repo / "docker-compose.yml").read_text()
    assert re.search(r"file: \$\{SECRET_KEY_FILE:\?", text)
    assert re.search(r"file: \$\{API_KEYS_FILE:\?", text)
    assert "${SECRET_KEY:" not in text and "${SECRET_KEY}" not in text
    for name in ("POSTGRES_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD", "DB_PASSWORD"):
        assert not re.search(rf"^\s+{name}:", text, re.MULTILINE), name


def test_memory_limits_everywhere(prod_config):
    for name, svc in prod_config["services"].items():
        assert int(svc["deploy"]["resources"]["limits"]["memory"]) > 0, name


def test_workers_are_scalable(prod_config):
    worker = prod_config["services"]["worker"]
    assert worker["deploy"]["replicas"] >= 1
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker
    assert worker["command"] == [
        "dask", "worker", "tls://scheduler:8786", *DASK_TLS_FLAGS, "--nworkers", "1", "--nthreads", "2",
        "--memory-limit", "1GiB", "--preload", "worker_preload", "--dashboard-address", ":8788",
    ]
    assert worker["deploy"]["resources"]["limits"]["memory"] == str(1536 * 2**20)


def test_worker_threads_and_memory_from_env(run_compose, repo):
    """DASK_WORKER_NTHREADS and DASK_WORKER_MEMORY_LIMIT (and the container's WORKER_MEMORY_MAX)
    come from .env; .env.example documents them with the defaults."""
    result = run_compose(*files(COMPOSE_FILE), "config", "--format", "json", **SECRETS,
                         DASK_WORKER_NTHREADS="4", DASK_WORKER_MEMORY_LIMIT="3GiB", WORKER_MEMORY_MAX="4G")
    assert result.returncode == 0, result.stderr
    worker = json.loads(result.stdout)["services"]["worker"]
    command = worker["command"]
    assert command[command.index("--nthreads") + 1] == "4"
    assert command[command.index("--memory-limit") + 1] == "3GiB"
    assert worker["deploy"]["resources"]["limits"]["memory"] == str(4 * 2**30)
    example = (repo / ".env.example").read_text()
    for line in ("DASK_WORKER_NTHREADS=2", "DASK_WORKER_MEMORY_LIMIT=1GiB", "WORKER_MEMORY_MAX=1536M"):
        assert f"\n{line}\n" in example, line


def test_dask_speaks_mutual_tls_only(prod_config, dev_config):
    """Scheduler, workers, API and sweeper share the CA and certificate (compose secrets) and
    tls:// addresses; the dashboard stays HTTP, behind nginx."""
    files = [prod_config["secrets"][secret]["file"] for secret in DASK_TLS_SECRETS]
    assert [f.rsplit("/", 1)[1] for f in files] == ["ca.pem", "cert.pem", "key.pem"]
    assert all(f.endswith("/secrets/dask-tls/" + f.rsplit("/", 1)[1]) for f in files)
    for config in (prod_config, dev_config):
        services = config["services"]
        for name in YBB_SERVICES:
            svc = services[name]
            assert DASK_TLS_SECRETS == [s["source"] for s in svc["secrets"]][-3:], name
            env = svc["environment"]
            assert env["DASK_SCHEDULER_ADDRESS"] == "tls://scheduler:8786", name
            assert (env["DASK_TLS_CA_FILE"], env["DASK_TLS_CERT"], env["DASK_TLS_KEY"]) == \
                ("/run/secrets/dask_tls_ca", "/run/secrets/dask_tls_cert", "/run/secrets/dask_tls_key"), name
        scheduler = services["scheduler"]["command"]
        assert scheduler[scheduler.index("--protocol") + 1] == "tls"
        assert all(flag in scheduler for flag in DASK_TLS_FLAGS)
        assert "secrets" not in services["nginx"]  # the edge holds no Dask certificate
        assert services["nginx"]["environment"]["DASK_DASHBOARD_UPSTREAM"] == "scheduler:8787"


def test_nginx_server_names(run_compose):
    def names(**env: str) -> str:
        result = run_compose(*files(COMPOSE_FILE), "config", "--format", "json", **SECRETS, **env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["services"]["nginx"]["environment"]["SERVER_NAMES"]

    assert names() == "localhost"
    assert names(SERVER_NAME="ybb.example.com") == "ybb.example.com"  # .env.example's variable
    assert names(SERVER_NAME="x", SERVER_NAMES="a.example b.example") == "a.example b.example"


def test_images_and_commands(prod_config):
    services = prod_config["services"]
    assert services["api"]["build"]["dockerfile"] == "services/api/Dockerfile"
    assert services["scheduler"]["build"]["dockerfile"] == "services/scheduler/Dockerfile"
    assert services["worker"]["image"] == services["scheduler"]["image"]
    # the sweeper imports ybb_api: it runs from the API image
    assert services["sweeper"]["image"] == services["api"]["image"]
    assert services["sweeper"]["command"] == ["python", "-m", "ybb_api.sweeper", "--every", "600"]
    for name in YBB_SERVICES:
        assert services[name]["environment"]["DASK_SCHEDULER_ADDRESS"] == "tls://scheduler:8786"
        assert services[name]["environment"]["DASK_CONFIG"] == "/app/services/scheduler/distributed.yaml"
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["cap_drop"] == ["ALL"]
        assert services[name]["logging"]["options"]["max-size"]


def test_prometheus_profile(prod_config):
    prometheus = prod_config["services"]["prometheus"]
    sources = [v["source"] for v in prometheus["volumes"] if v["type"] == "bind"]
    assert any(s.endswith("monitoring/prometheus/prometheus.yml") for s in sources)
    assert any(s.endswith("monitoring/prometheus/alerts.yml") for s in sources)
    assert "ports" not in prometheus


# The application's database (source exports): the API plans, every worker reads.
DB_CLIENTS = {"api", "worker"}
DB_VARIABLES = ["DB_HOST", "DB_PORT", "DB_USER", "DB_NAME", "DB_PASSWORD_FILE", "SOURCE_YBB_URL", "SOURCES_DIRS",
                "SOURCE_MAX_ROWS", "SOURCE_STATEMENT_TIMEOUT", "SOURCE_CONNECT_TIMEOUT"]


def test_database_settings_reach_api_and_workers_only(prod_config, dev_config):
    for config in (prod_config, dev_config):
        for name, svc in config["services"].items():
            env = svc.get("environment", {})
            secrets = [s["source"] for s in svc.get("secrets", [])]
            if name in DB_CLIENTS:
                assert set(DB_VARIABLES) <= set(env), name
                # unset: empty (the code's defaults), so source exports answer 503 source_not_configured
                assert env["DB_HOST"] == env["DB_USER"] == env["DB_NAME"] == "", name
                assert env["DB_PORT"] == "3306", name
                # the password only as a file, the compose secret
                assert env["DB_PASSWORD_FILE"] == "/run/secrets/db_password", name
                assert "DB_PASSWORD" not in env, name
                mount = next(s for s in svc["secrets"] if s["source"] == "db_password")
                assert mount["target"] == env["DB_PASSWORD_FILE"], name
                # a database on the Docker host: DB_HOST=host.docker.internal
                assert "host.docker.internal=host-gateway" in svc["extra_hosts"], name
            else:
                assert not {k for k in env if k.startswith(("DB_", "SOURCE"))}, name
                assert "db_password" not in secrets, name


def test_database_settings_are_optional(repo):
    """No DB_*/SOURCE* variable is `${VAR:?}`-required: the stack runs without a database
    (prod_config and the lint run with SECRET_KEY and API_KEYS_FILE only)."""
    text = (repo / "docker-compose.yml").read_text()
    referenced = set(re.findall(r"\$\{((?:DB|SOURCES?)_[A-Z_]+)", text))
    assert {"DB_HOST", "DB_PORT", "DB_USER", "DB_NAME", "DB_PASSWORD_FILE", "SOURCE_YBB_URL"} <= referenced
    required = re.findall(r"\$\{((?:DB|SOURCES?)_[A-Z_]*):?\?", text)
    assert required == []
    assert all(re.search(rf"\$\{{{name}:-", text) for name in referenced), referenced


def test_database_password_secret_default_is_an_empty_file(prod_config, repo):
    """Unset, the secret's file is a committed empty file: `up` fails on a missing secret
    file (config does not), and the default must never hold a password."""
    default = Path(prod_config["secrets"]["db_password"]["file"])
    assert default == repo / "deploy" / "empty-secret"
    assert default.is_file() and default.read_bytes() == b""


def test_database_settings_from_env(run_compose):
    result = run_compose(*files(COMPOSE_FILE), "config", "--format", "json", **SECRETS, DB_HOST="db.example.internal",
                         DB_USER="ybb_reader", DB_NAME="ybb_database", DB_PORT="3307",
                         DB_PASSWORD_FILE="./secrets/db_password", SOURCE_STATEMENT_TIMEOUT="60")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["secrets"]["db_password"]["file"].endswith("/secrets/db_password")
    for name in DB_CLIENTS:
        env = config["services"][name]["environment"]
        assert (env["DB_HOST"], env["DB_USER"], env["DB_NAME"], env["DB_PORT"]) == \
            ("db.example.internal", "ybb_reader", "ybb_database", "3307"), name
        # the host path names the secret's file; the containers read the mounted copy
        assert env["DB_PASSWORD_FILE"] == "/run/secrets/db_password", name
        assert env["SOURCE_STATEMENT_TIMEOUT"] == "60", name
