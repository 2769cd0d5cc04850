"""docker-compose.yml: the shared log volume, the job store wiring (SQLite by default,
PostgreSQL through the `postgres` profile and JOB_STORE_URL_FILE), and the monitoring
profile's Alertmanager and Grafana."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deploy_helpers import COMPOSE_FILE, OVERRIDE_FILE, REPO, SECRETS

YBB_SERVICES = {"api", "scheduler", "worker", "sweeper"}
JOB_STORE_USERS = {"api", "worker", "sweeper"}


def files(*paths: Path) -> list[str]:
    return [arg for p in paths for arg in ("-f", str(p))]


def config_with(run_compose, *paths: Path, profiles: tuple[str, ...] = (), **env: str) -> dict:
    profile_args = [arg for p in profiles for arg in ("--profile", p)]
    result = run_compose(*files(*paths), *profile_args, "config", "--format", "json", **{**SECRETS, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def bind_sources(svc: dict) -> dict[str, str]:
    """target -> source of a service's bind mounts."""
    return {v["target"]: v["source"] for v in svc.get("volumes", []) if v["type"] == "bind"}


# -- logs ---------------------------------------------------------------------------------

def test_one_log_volume_at_log_dir_of_every_python_service(prod_config, dev_config):
    """api, scheduler, worker and sweeper write LOG_DIR to the same named volume, so /monitor's
    log viewer (on the api) sees the workers' files and nothing is lost on recreation."""
    for config in (prod_config, dev_config):
        assert "ybb-logs" in config["volumes"]
        for name, svc in config["services"].items():
            mounts = [v for v in svc.get("volumes", []) if v.get("source") == "ybb-logs"]
            if name in YBB_SERVICES:
                assert len(mounts) == 1 and mounts[0]["type"] == "volume", name
                assert mounts[0]["target"] == svc["environment"]["LOG_DIR"] == "/var/log/ybb", name
                assert not mounts[0].get("read_only"), name
            else:
                assert not mounts, name


@pytest.mark.parametrize("dockerfile", ["services/api/Dockerfile", "services/scheduler/Dockerfile"])
def test_log_directory_belongs_to_the_containers_user(dockerfile):
    """A new named volume starts as a copy of the image's directory, owner included: both
    images create /var/log/ybb for UID 10001, the user they run as."""
    text = (REPO / dockerfile).read_text()
    assert "--uid 10001" in text and "\nUSER 10001:10001\n" in text
    assert "install -d -o ybb -g ybb -m 0750 /var/log/ybb" in text
    assert "LOG_DIR=/var/log/ybb" in text


# -- job store ----------------------------------------------------------------------------

def test_job_store_is_sqlite_without_a_url_file(prod_config, repo):
    """No JOB_STORE_URL_FILE in .env: the containers get an empty one (unset for the code),
    and the job_store_url secret is the committed empty file."""
    assert Path(prod_config["secrets"]["job_store_url"]["file"]) == repo / "deploy" / "empty-secret"
    for name, svc in prod_config["services"].items():
        env = svc.get("environment", {})
        if name in JOB_STORE_USERS:
            assert env["JOB_STORE_URL_FILE"] == "", name
            assert "job_store_url" in [s["source"] for s in svc["secrets"]], name
        else:
            assert "JOB_STORE_URL_FILE" not in env, name
        assert "JOB_STORE_URL" not in env, name  # the URL holds a password: only ever a file


def test_job_store_url_file_wires_postgresql(run_compose, repo):
    config = config_with(run_compose, COMPOSE_FILE, profiles=("postgres",),
                         JOB_STORE_URL_FILE="./secrets/job_store_url")
    assert config["secrets"]["job_store_url"]["file"] == str(repo / "secrets" / "job_store_url")
    for name in JOB_STORE_USERS:
        svc = config["services"][name]
        mount = next(s for s in svc["secrets"] if s["source"] == "job_store_url")
        assert svc["environment"]["JOB_STORE_URL_FILE"] == mount["target"] == "/run/secrets/job_store_url", name
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy", name


def test_job_row_retention_reaches_the_sweeper(run_compose):
    config = config_with(run_compose, COMPOSE_FILE, JOB_ROW_RETENTION_HOURS="72")
    assert config["services"]["sweeper"]["environment"]["JOB_ROW_RETENTION_HOURS"] == "72"


def test_postgres_profile(prod_config, repo):
    postgres = prod_config["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert re.fullmatch(r"postgres:\d+\.\d+(-[a-z]+)?", postgres["image"]), postgres["image"]
    test = postgres["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "pg_isready", test
    assert test[test.index("-U") + 1] == postgres["environment"]["POSTGRES_USER"] == "ybb"
    assert test[test.index("-d") + 1] == postgres["environment"]["POSTGRES_DB"] == "ybb"
    # the password only as a file (the image's POSTGRES_PASSWORD_FILE), never in the environment
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    mount = next(s for s in postgres["secrets"] if s["source"] == "postgres_password")
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == mount["target"] == "/run/secrets/postgres_password"
    assert prod_config["secrets"]["postgres_password"]["file"] == str(repo / "secrets" / "postgres_password")
    data = [v for v in postgres["volumes"] if v["type"] == "volume"]
    assert [(v["source"], v["target"]) for v in data] == [("postgres-data", "/var/lib/postgresql/data")]
    assert "postgres-data" in prod_config["volumes"]
    assert "ports" not in postgres  # internal; compose.multihost.yml publishes it on a private address
    assert int(postgres["deploy"]["resources"]["limits"]["memory"]) > 0


def test_only_the_postgres_service_sees_its_password(prod_config):
    for name, svc in prod_config["services"].items():
        if name != "postgres":
            assert "postgres_password" not in [s["source"] for s in svc.get("secrets", [])], name


# -- monitoring: Alertmanager, Grafana ---------------------------------------------------

def test_alertmanager_service(prod_config, repo):
    alertmanager = prod_config["services"]["alertmanager"]
    assert alertmanager["profiles"] == ["monitoring"]
    assert re.fullmatch(r"prom/alertmanager:v\d+\.\d+\.\d+", alertmanager["image"]), alertmanager["image"]
    binds = bind_sources(alertmanager)
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    assert Path(binds["/etc/alertmanager/alertmanager.yml"]) == \
        repo / "monitoring" / "alertmanager" / "alertmanager.yml"
    assert all(v["read_only"] for v in alertmanager["volumes"] if v["type"] == "bind")
    assert "http://127.0.0.1:9093/-/healthy" in alertmanager["healthcheck"]["test"]
    assert "9093" in alertmanager["expose"] and "ports" not in alertmanager


def test_prometheus_sends_alerts_to_alertmanager(prod_config, repo):
    import yaml

    prometheus_yml = yaml.safe_load((repo / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    targets = [target for manager in prometheus_yml["alerting"]["alertmanagers"]
               for static in manager["static_configs"] for target in static["targets"]]
    assert targets == ["alertmanager:9093"]
    # the rules it evaluates are mounted where rule_files points
    binds = bind_sources(prod_config["services"]["prometheus"])
    for rule_file in prometheus_yml["rule_files"]:
        assert Path(binds[rule_file]) == repo / "monitoring" / "prometheus" / "alerts.yml"
    depends = prod_config["services"]["prometheus"]["depends_on"]["alertmanager"]
    assert depends["condition"] == "service_healthy"


def test_grafana_service(prod_config, repo):
    grafana = prod_config["services"]["grafana"]
    assert grafana["profiles"] == ["monitoring"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"]), grafana["image"]
    binds = bind_sources(grafana)
    monitoring = repo / "monitoring" / "grafana"
    assert Path(binds["/etc/grafana/provisioning/datasources/ybb-prometheus.yml"]) == \
        monitoring / "provisioning" / "datasources" / "prometheus.yml"
    assert Path(binds["/etc/grafana/provisioning/dashboards/ybb.yml"]) == \
        monitoring / "provisioning" / "dashboards" / "ybb.yml"
    dashboard_target = next(t for t, s in binds.items() if Path(s) == monitoring / "dashboard.json")
    for source in binds.values():
        assert Path(source).is_file(), source
    assert all(v["read_only"] for v in grafana["volumes"] if v["type"] == "bind")
    # the provider loads the directory the dashboard is mounted in
    import yaml

    provider = yaml.safe_load((monitoring / "provisioning" / "dashboards" / "ybb.yml").read_text())
    assert [p["options"]["path"] for p in provider["providers"]] == [str(Path(dashboard_target).parent)]
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == dashboard_target
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert any("/api/health" in part for part in grafana["healthcheck"]["test"])


def test_grafana_admin_password_is_a_secret_file(prod_config, repo):
    grafana = prod_config["services"]["grafana"]
    env = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    mount = next(s for s in grafana["secrets"] if s["source"] == "grafana_admin_password")
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == mount["target"]
    assert prod_config["secrets"]["grafana_admin_password"]["file"] == str(repo / "secrets" / "grafana_admin_password")
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false" and env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_dev_override_publishes_alertmanager_on_loopback(dev_config):
    ports = dev_config["services"]["alertmanager"]["ports"]
    assert [(p["host_ip"], p["target"]) for p in ports] == [("127.0.0.1", 9093)]


def test_override_keeps_the_log_mount(run_compose):
    """compose.override.yml adds the code mount; merged by target, the log volume stays."""
    config = config_with(run_compose, COMPOSE_FILE, OVERRIDE_FILE)
    for name in YBB_SERVICES:
        targets = {v["target"] for v in config["services"][name]["volumes"]}
        assert {"/var/log/ybb", "/app/services"} <= targets, name
