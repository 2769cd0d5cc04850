"""The two Dockerfiles: hadolint passes, and the images are built the way we promise
(pinned slim base, multi-stage, non-root, health check, exact requirements)."""
from __future__ import annotations

import re
import subprocess

import pytest

from deploy_helpers import REPO

DOCKERFILES = {
    "api": REPO / "services" / "api" / "Dockerfile",
    "scheduler": REPO / "services" / "scheduler" / "Dockerfile",
}
PINNED_BASE = re.compile(r"python:3\.11\.\d+-slim-(bookworm|trixie)")


def instructions(path):
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages(path):
    """Instructions grouped per FROM."""
    groups = []
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            groups.append([])
        groups[-1].append((keyword, rest))
    return groups


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_hadolint_passes(hadolint, name):
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "warning", str(DOCKERFILES[name])],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_multi_stage_on_pinned_slim_base(name):
    froms = [rest for keyword, rest in instructions(DOCKERFILES[name]) if keyword == "FROM"]
    assert len(froms) >= 2
    images = {rest.split()[0] for rest in froms}
    assert len(images) == 1, "build and runtime stages must share one base (the venv's interpreter path)"
    assert PINNED_BASE.fullmatch(images.pop())


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_runtime_stage(name):
    runtime = stages(DOCKERFILES[name])[-1]
    keywords = [k for k, _ in runtime]
    users = [rest for k, rest in runtime if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in keywords
    healthcheck = dict(runtime)["HEALTHCHECK"]
    assert '"python", "-c"' in healthcheck and "urllib.request" in healthcheck
    runs = " ".join(rest for k, rest in runtime if k == "RUN")
    assert not re.search(r"apt-get|apk |gcc|build-essential|pip install", runs), "no installs in the runtime stage"
    assert ("COPY", "--from=build /opt/venv /opt/venv") in runtime
    assert ("WORKDIR", "/app") in runtime
    env = " ".join(rest for k, rest in runtime if k == "ENV")
    assert "PYTHONPATH=/app/services/api:/app/services/scheduler" in env
    assert "PATH=/opt/venv/bin:$PATH" in env


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_build_stage_installs_exactly_requirements_txt(name):
    build = stages(DOCKERFILES[name])[0]
    assert ("COPY", "requirements.txt /tmp/requirements.txt") in build
    assert ("COPY", "services/ /app/services/") in build
    runs = " ".join(rest for k, rest in build if k == "RUN")
    assert "-r /tmp/requirements.txt" in runs
    assert re.search(r"pip install [^&]*--only-binary=:all:", runs)


@pytest.mark.parametrize(
    "name, command",
    [
        ("api", ["gunicorn", "--config", "/app/services/api/gunicorn.conf.py", "wsgi:app"]),
        ("scheduler", ["dask", "scheduler", "--host", "0.0.0.0", "--port", "8786",
                       "--dashboard-address", ":8787", "--dashboard-prefix", "/dask"]),
    ],
)
def test_default_command(name, command):
    import json

    cmd = [rest for k, rest in instructions(DOCKERFILES[name]) if k == "CMD"][-1]
    assert json.loads(cmd) == command


def test_same_uid_in_both_images():
    uids = {name: re.findall(r"--uid (\d+)", path.read_text()) for name, path in DOCKERFILES.items()}
    assert uids["api"] == uids["scheduler"] == ["10001"]


def test_dockerignore_keeps_secrets_and_state_out():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    for pattern in (".env", "secrets/", "certs/", "**/.git", "**/.venv", "tests/", "var/"):
        assert pattern in patterns, pattern
    for needed in ("services", "services/", "requirements.txt"):
        assert needed not in patterns
