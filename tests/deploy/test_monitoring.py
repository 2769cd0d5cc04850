"""monitoring/: the Prometheus, Alertmanager and Grafana files that the compose profile
`monitoring` mounts. No Prometheus/Alertmanager binaries here: the checks are the rules
those tools apply when loading (the parts this repository relies on)."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from deploy_helpers import REPO

MONITORING = REPO / "monitoring"
ALERTMANAGER = MONITORING / "alertmanager" / "alertmanager.yml"
DURATION = re.compile(r"^(\d+[smhdwy])+$")


def load(path):
    return yaml.safe_load(path.read_text())


def routes(route):
    yield route
    for child in route.get("routes", []):
        yield from routes(child)


def test_alertmanager_config_is_consistent():
    config = load(ALERTMANAGER)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert len(receivers) == len(config["receivers"]), "receiver names must be unique"
    root = config["route"]
    assert root["receiver"] in receivers  # the root route needs a receiver
    for route in routes(root):
        if "receiver" in route:
            assert route["receiver"] in receivers, route
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in route:
                assert DURATION.match(route[key]), (key, route[key])
        for matcher in route.get("matchers", []):
            assert re.fullmatch(r'\w+\s*(=|!=|=~|!~)\s*"[^"]*"', matcher), matcher
        assert "match" not in route and "match_re" not in route  # deprecated forms


def test_alertmanager_sends_nothing_by_default_but_documents_a_receiver():
    config = load(ALERTMANAGER)
    receivers = {r["name"]: r for r in config["receivers"]}
    notifiers = {name for name, r in receivers.items() if any(k.endswith("_configs") for k in r)}
    # every route ends at a receiver without notifiers: disabled until an operator switches it
    for route in routes(config["route"]):
        assert route.get("receiver", config["route"]["receiver"]) not in notifiers, route
    webhook = receivers["ops-webhook"]["webhook_configs"]
    assert webhook and all(w["url"].startswith(("http://", "https://")) for w in webhook)
    # an email receiver, if uncommented, must carry what Alertmanager refuses to load without
    for receiver in receivers.values():
        for email in receiver.get("email_configs", []):
            assert email.get("to") and (email.get("smarthost") or config.get("global", {}).get("smtp_smarthost"))
            assert email.get("from") or config.get("global", {}).get("smtp_from")
    text = ALERTMANAGER.read_text()
    assert "receiver: ops-webhook" in text  # the comment says how to switch it on


def test_alertmanager_config_holds_no_secret():
    text = ALERTMANAGER.read_text()
    assert not re.search(r"^\s*(auth_password|bearer_token|credentials|password):", text, re.MULTILINE)


def test_prometheus_rules_carry_the_labels_alertmanager_groups_by():
    config = load(ALERTMANAGER)
    group_by = set(config["route"]["group_by"]) - {"alertname"}
    rules = [rule for group in load(MONITORING / "prometheus" / "alerts.yml")["groups"] for rule in group["rules"]]
    assert rules
    for rule in rules:
        assert group_by <= set(rule.get("labels", {})), rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
    matched = {m.split("=", 1)[1].strip('"') for route in routes(config["route"]) for m in route.get("matchers", [])}
    assert matched <= {"page", "ticket"}


def test_prometheus_alerting_and_scrape_targets():
    config = load(MONITORING / "prometheus" / "prometheus.yml")
    targets = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    assert targets == ["alertmanager:9093"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"ybb-api", "dask-scheduler", "alertmanager"} <= set(jobs)
    assert jobs["dask-scheduler"]["metrics_path"] == "/dask/metrics"


def test_grafana_datasource_is_the_compose_prometheus():
    config = load(MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    assert config["apiVersion"] == 1
    [source] = config["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    assert source["access"] == "proxy" and source["isDefault"] is True and source["uid"]


def test_grafana_dashboard_provider_and_dashboard():
    provider = load(MONITORING / "grafana" / "provisioning" / "dashboards" / "ybb.yml")
    assert provider["apiVersion"] == 1
    [entry] = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"].startswith("/")
    dashboard = json.loads((MONITORING / "grafana" / "dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["panels"]
    assert "id" not in dashboard or dashboard["id"] is None  # provisioned dashboards carry no id
    # panels pick the data source through a `datasource` variable of type prometheus, which
    # resolves to the provisioned default
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"


@pytest.mark.parametrize("path", sorted(p.relative_to(REPO).as_posix() for p in MONITORING.rglob("*") if p.is_file()))
def test_readme_lists_every_monitoring_file(path):
    readme = (MONITORING / "README.md").read_text()
    if path == "monitoring/README.md":
        return
    assert path.removeprefix("monitoring/") in readme, path
