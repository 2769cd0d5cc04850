"""Constants and plain helpers of the deployment tests (fixtures live in conftest.py)."""
from __future__ import annotations

import importlib.metadata
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
OVERRIDE_FILE = REPO / "compose.override.yml"
NGINX_TEMPLATE = REPO / "nginx" / "templates" / "ybb.conf.template"
SYSTEMD_DIR = REPO / "deploy" / "systemd"
PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def missing_tool(what: str) -> None:
    """Skip (or, under CI, fail) because `what` is not available."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{what} (CI must install requirements-dev.txt)")
    pytest.skip(what)


def package_binary(distribution: str, name: str) -> Path | None:
    """The executable `name` shipped inside an installed distribution, if any."""
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == name:
            path = Path(str(entry.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK) and path.read_bytes()[:4] == b"\x7fELF":
                return path
    return None


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: nothing the compose files interpolate leaks in from the shell."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMD_LOG_COLOR") if k in os.environ}
    env.update(extra)
    return env


SECRETS = {"SECRET_KEY_FILE": "./secrets/secret_key", "API_KEYS_FILE": "./secrets/api_keys.json"}
# What compose.multihost.yml (host 1 of several) requires on top of SECRETS.
MULTIHOST_FILE = REPO / "compose.multihost.yml"
MULTIHOST = {"JOB_STORE_URL_FILE": "./secrets/job_store_url", "HOST_PRIVATE_ADDRESS": "10.0.0.10",
             "NFS_SERVER": "10.0.0.5", "NFS_EXPORT": "/srv/ybb/data"}
# What compose.worker-host.yml (a worker-only host) requires.
WORKER_HOST_FILE = REPO / "compose.worker-host.yml"
WORKER_HOST = {"API_KEYS_FILE": "./secrets/api_keys.json", "JOB_STORE_URL_FILE": "./secrets/job_store_url",
               "DASK_SCHEDULER_ADDRESS": "tls://10.0.0.10:8786", "WORKER_HOST_ADDRESS": "10.0.0.11",
               "NFS_SERVER": "10.0.0.5", "NFS_EXPORT": "/srv/ybb/data"}


INSTALL_PREFIX = "/opt/ybb/"
EXEC_LINE = re.compile(r"^Exec\w+=(?P<command>.+)$", re.MULTILINE)


def unit_files() -> list[Path]:
    return sorted(p for p in SYSTEMD_DIR.iterdir() if p.suffix in {".service", ".timer", ".target", ".socket", ".path"})


def unit_executables(text: str) -> set[str]:
    """Absolute paths of the programs in a unit's Exec*= lines (prefixes -@:+! stripped)."""
    programs = set()
    for match in EXEC_LINE.finditer(text):
        program = match.group("command").split()[0].lstrip("-@:+!|")
        if program.startswith("/"):
            programs.add(program)
    return programs
