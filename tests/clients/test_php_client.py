"""The PHP client (clients/php), tested with real PHP: PHPUnit against the real stack.

Needs php-cli, php-curl, php-xml, php-mbstring and phpunit (Debian packages), which
`make test` installs with scripts/ensure_php.sh.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHP_DIR = ROOT / "clients" / "php"
MISSING = "{} is not installed: run the tests with `make test`, which installs PHP and PHPUnit (scripts/ensure_php.sh)"
OK_LINE = re.compile(r"^OK \((\d+) tests?, (\d+) assertions?\)\s*$", re.MULTILINE)
COUNTS_LINE = re.compile(r"^Tests: (\d+), Assertions: (\d+)(.*)$", re.MULTILINE)
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(MISSING.format(name))
    return path


def _php() -> str:
    php = _tool("php")
    check = subprocess.run([php, "-r", 'exit(extension_loaded("curl") && extension_loaded("dom") ? 0 : 1);'],
                           capture_output=True, timeout=30)
    if check.returncode != 0:
        pytest.fail(MISSING.format("php-curl or php-xml"))
    return php


def _size_in_bytes(value: str) -> int:
    """Nginx sizes: 100m, 512k, 1g, 2048."""
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value.strip()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def parse_summary(output: str) -> dict[str, int]:
    """PHPUnit 9/10's last summary line: `OK (12 tests, 40 assertions)` or
    `Tests: 12, Assertions: 40, Failures: 1, Skipped: 2.`"""
    if ok := OK_LINE.findall(output):
        tests, assertions = ok[-1]
        return {"tests": int(tests), "assertions": int(assertions)}
    counts = COUNTS_LINE.findall(output)
    if not counts:
        raise AssertionError(f"no PHPUnit summary line in the output:\n{output}")
    tests, assertions, rest = counts[-1]
    summary = {"tests": int(tests), "assertions": int(assertions)}
    for name, number in re.findall(r"(\w+): (\d+)", rest):
        summary[name.lower()] = int(number)
    return summary


def test_parse_summary_reads_phpunit_9_and_10_lines() -> None:
    assert parse_summary("...\n\nOK (48 tests, 129 assertions)\n") == {"tests": 48, "assertions": 129}
    assert parse_summary("OK, but incomplete, skipped, or risky tests!\nTests: 48, Assertions: 129, Skipped: 17.\n") \
        == {"tests": 48, "assertions": 129, "skipped": 17}
    assert parse_summary("FAILURES!\nTests: 5, Assertions: 9, Errors: 1, Failures: 2.") \
        == {"tests": 5, "assertions": 9, "errors": 1, "failures": 2}
    with pytest.raises(AssertionError):
        parse_summary("PHP Fatal error: ...")


# The adapters' documentation code: examples to copy into an application, linted like the rest.
EXAMPLES = [
    "src/ClientInterface.php",
    "src/Testing/FakeClient.php",
    "adapters/codeigniter4/Controllers/ParticipantExport.php",
    "adapters/codeigniter4/Libraries/ExportTracker.php",
    "adapters/codeigniter4/Jobs/StartExport.php",
    "adapters/codeigniter4/Jobs/FetchExport.php",
    "adapters/codeigniter4/Commands/PollExports.php",
    "adapters/codeigniter4/Models/ExportModel.php",
    "adapters/codeigniter4/Database/Migrations/2024-06-01-000000_CreateYbbExports.php",
    "adapters/laravel/examples/app/Http/Controllers/ParticipantExportController.php",
    "adapters/laravel/examples/app/Jobs/StartParticipantExport.php",
    "adapters/laravel/examples/app/Jobs/FetchExport.php",
    "adapters/laravel/examples/app/Models/Export.php",
    "adapters/laravel/examples/database/migrations/2024_06_01_000000_create_ybb_exports_table.php",
    "adapters/laravel/examples/tests/Feature/ParticipantExportTest.php",
]


def test_php_sources_and_adapters_are_valid_php() -> None:
    php = _php()
    files = sorted(path for path in PHP_DIR.rglob("*.php") if "vendor" not in path.relative_to(PHP_DIR).parts)
    assert len(files) > 20
    missing = [name for name in EXAMPLES if PHP_DIR / name not in files]
    assert not missing, f"expected PHP files are missing: {missing}"
    for path in files:
        result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


@pytest.mark.e2e
def test_phpunit_suite_passes_against_the_stack(stack) -> None:
    php = _php()
    phpunit = _tool("phpunit")
    limit = stack.config.nginx_limits.get("CLIENT_MAX_BODY_SIZE", "100m")
    env = {key: value for key, value in os.environ.items() if key not in PROXY_VARS}
    env.update({
        "YBB_BASE_URL": stack.config.base_url,
        "YBB_API_KEY": (stack.config.var / "dev-api-key").read_text().strip(),
        "YBB_CA_CERT": str(stack.config.cert),
        "YBB_MAX_BODY_BYTES": str(_size_in_bytes(limit)),
        "NO_PROXY": "127.0.0.1,localhost",
    })
    result = subprocess.run([php, phpunit, "--colors=never"], cwd=PHP_DIR, env=env, capture_output=True,
                            text=True, timeout=280)
    output = result.stdout + result.stderr
    summary = parse_summary(output)
    assert result.returncode == 0, output
    assert summary["tests"] >= 40 and summary["assertions"] > summary["tests"], output
    assert summary.get("skipped", 0) == 0, f"tests were skipped although the stack is running:\n{output}"
