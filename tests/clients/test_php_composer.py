"""The PHP client as a Composer package: its metadata, `composer validate`, and an install into
a new project through a path repository with a version constraint (`^1.0`, as the Laravel
adapter requires it), offline: Packagist is disabled and so is Composer's network.

The metadata checks need nothing; the Composer ones need `composer` (Debian's package) and
are skipped, with the reason, when it is not installed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHP_DIR = ROOT / "clients" / "php"
LARAVEL_DIR = PHP_DIR / "adapters" / "laravel"
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def _composer_json(directory: Path) -> dict:
    return json.loads((directory / "composer.json").read_text())


def _composer() -> str:
    composer = shutil.which("composer")
    if composer is None:
        pytest.skip("composer is not installed (Debian package `composer`): the install checks need it")
    if shutil.which("php") is None:
        pytest.skip("php is not installed: run `make php`")
    return composer


def _offline_env(home: Path) -> dict[str, str]:
    """Composer with its own empty home (no user config, cache or auth) and no network at all."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSER")}
    env.update({
        "COMPOSER_HOME": str(home / "composer-home"),
        "COMPOSER_CACHE_DIR": str(home / "composer-cache"),
        "COMPOSER_DISABLE_NETWORK": "1",
        "COMPOSER_NO_INTERACTION": "1",
        "COMPOSER_ALLOW_SUPERUSER": "1",
    })
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def test_the_packages_declare_a_version_the_laravel_adapter_accepts() -> None:
    client = _composer_json(PHP_DIR)
    adapter = _composer_json(LARAVEL_DIR)
    assert client["name"] == "ybb/export-client"
    version = SEMVER.match(client.get("version", ""))
    assert version, "clients/php/composer.json needs a version: a path repository has no tag to take it from"
    # The adapter asks for ^1.0: the client's version must be 1.x, at least 1.0.0.
    assert adapter["require"]["ybb/export-client"] == "^1.0"
    assert version.group(1) == "1"
    assert SEMVER.match(adapter.get("version", ""))
    # Client::VERSION (sent in the User-Agent) is the package's version.
    constant = re.search(r"public const VERSION = '([^']+)';", (PHP_DIR / "src" / "Client.php").read_text())
    assert constant and constant.group(1) == client["version"]


def test_the_client_needs_nothing_to_download() -> None:
    client = _composer_json(PHP_DIR)
    runtime = set(client["require"])
    assert runtime <= {"php", "ext-curl", "ext-json"}, f"non-dev dependencies: {sorted(runtime)}"
    assert client["autoload"]["psr-4"] == {"YbbExport\\": "src/"}
    assert (PHP_DIR / "src" / "ClientInterface.php").is_file()
    assert (PHP_DIR / "src" / "Testing" / "FakeClient.php").is_file()


@pytest.mark.parametrize("directory", [PHP_DIR, LARAVEL_DIR], ids=["client", "laravel-adapter"])
def test_composer_validate(directory: Path, tmp_path: Path) -> None:
    composer = _composer()
    result = _run([composer, "validate", "--no-check-publish", "--no-check-lock"], directory, _offline_env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is valid" in output, output
    # The one warning allowed: the version field, which a path repository needs.
    warnings = [line for line in output.splitlines() if line.startswith("- ")]
    assert all("version field" in line for line in warnings), output


def _project(tmp_path: Path, require: dict[str, str], repositories: list[dict]) -> Path:
    project = tmp_path / "app"
    project.mkdir()
    (project / "composer.json").write_text(json.dumps({
        "name": "acme/app",
        "type": "project",
        "require": require,
        "repositories": [*repositories, {"packagist.org": False}],
        "config": {"lock": False},
    }, indent=4))
    return project


def test_the_client_installs_from_a_path_repository_with_a_version_constraint(tmp_path: Path) -> None:
    composer = _composer()
    env = _offline_env(tmp_path)
    project = _project(tmp_path, {"ybb/export-client": "^1.0"},
                       [{"type": "path", "url": str(PHP_DIR), "options": {"symlink": False}}])
    result = _run([composer, "install", "--no-progress", "--no-dev"], project, env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Installing ybb/export-client (1.0.0)" in output, output
    installed = project / "vendor" / "ybb" / "export-client"
    assert installed.is_dir() and not installed.is_symlink(), "symlink: false copies the package"
    assert (installed / "src" / "Client.php").is_file()

    script = ("require 'vendor/autoload.php';"
              "$fake = new YbbExport\\Testing\\FakeClient();"
              "$fake->submit('participants/standard', [['id' => 1]]);"
              "echo YbbExport\\Client::VERSION, ' ', $fake instanceof YbbExport\\ClientInterface ? 'interface' : '-';")
    run = _run(["php", "-r", script], project, env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "1.0.0 interface"


def test_the_laravel_adapter_resolves_its_client_requirement(tmp_path: Path) -> None:
    """The adapter's `ybb/export-client: ^1.0` is met by the path repository. Laravel itself is
    stood in for by an empty metapackage: nothing is downloaded."""
    composer = _composer()
    env = _offline_env(tmp_path)
    stand_in = {"type": "package",
                "package": {"name": "illuminate/support", "version": "11.0.0", "type": "metapackage"}}
    # The client's entry also shows the other documented way to give a version: the repository's `versions`.
    client_options = {"symlink": False, "versions": {"ybb/export-client": "1.0.0"}}
    project = _project(tmp_path, {"ybb/export-client-laravel": "^1.0"}, [
        {"type": "path", "url": str(LARAVEL_DIR), "options": {"symlink": False}},
        {"type": "path", "url": str(PHP_DIR), "options": client_options},
        stand_in,
    ])
    result = _run([composer, "install", "--no-progress", "--no-dev"], project, env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Installing ybb/export-client (1.0.0)" in output, output
    assert "Installing ybb/export-client-laravel (1.0.0)" in output, output
    assert (project / "vendor" / "ybb" / "export-client-laravel" / "src" / "YbbExportServiceProvider.php").is_file()
    assert (project / "vendor" / "ybb" / "export-client" / "src" / "ClientInterface.php").is_file()
