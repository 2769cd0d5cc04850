"""The database part of the benchmark (bench/run.py, section 5): exports read from MariaDB.

On one private MariaDB server (tests/databases.py) seeded with the YBB schema and 1,000,000
participants (tests/ybb_database.py), bench/run.py measures

- ours: `POST /api/v1/exports {"source": {"name": "ybb/participants"}, "template":
  "participants/standard"}` through the real stack, POST → poll → download (run.py, with
  `post_source_export` below), with the peak RSS of every process of the stack;
- the original service's approach (`original_export`, run in a child process of its own so
  that its peak RSS is its own): one PyMySQL DictCursor `fetchall()` of the full participants
  query it runs (`ORIGINAL_PARTICIPANTS_SQL`), its cleanup loop over every value, then
  `pandas.DataFrame(rows)` of the template's fields and `to_excel` with pandas' default engine;
- the readers against each other on one key range (`compare_readers`): ours
  (`ybb_engine.sources.reader.read`), PyMySQL DictCursor, connectorx (Arrow), pandas.read_sql.

    .venv/bin/python bench/run.py --only database            # the section alone (about 10 minutes)
    .venv/bin/python bench/database.py baseline OUT.xlsx     # the original's export, URL in BENCH_BASELINE_URL
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT / "services" / "scheduler", ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

SOURCE = "ybb/participants"
TEMPLATE = "participants/standard"
PARTICIPANTS = 1_000_000
READER_RANGE = 50_000           # participants ids of the reader comparison's one range
BASELINE_URL_ENV = "BENCH_BASELINE_URL"  # the child process's database URL (not on its command line)

# The query the original service runs for a participants export (services/database_ybb_export_service.py,
# _fetch_participants_data, include_related on, no filter, the default sort), written out: every column it
# selects, the payment subqueries, the three LEFT JOINs and programs'. The same expressions as the
# `columns`, `from` and `where` of services/scheduler/sources/ybb/participants.yaml (checked by
# `check_original_sql`).
ORIGINAL_PARTICIPANTS_SQL = """
SELECT DISTINCT
    p.id, p.user_id, p.account_id, p.full_name, u.email, p.birthdate, p.gender,
    p.nationality, p.nationality_code, p.nationality_flag,
    CONCAT(COALESCE(p.country_code, ''), ' ', COALESCE(p.phone_number, '')) AS phone,
    p.phone_number, p.country_code, p.phone_flag, p.origin_address, p.current_address,
    p.institution, p.major, p.occupation, p.education_level, p.organizations, p.picture_url,
    p.instagram_account, p.emergency_account,
    CONCAT(COALESCE(p.emergency_country_code, ''), ' ', COALESCE(p.emergency_account, '')) AS emergency_contact,
    p.emergency_country_code, p.emergency_phone_flag, p.contact_relation, p.disease_history,
    p.tshirt_size, p.category, p.experiences, p.achievements, p.resume_url, p.knowledge_source,
    p.source_account_name, p.twibbon_link, p.requirement_link, p.ref_code_ambassador,
    p.program_id, p.score_status, p.score_total, p.is_active, p.is_deleted, p.created_at, p.updated_at,
    ps.form_status,
    CASE WHEN EXISTS (SELECT 1 FROM payments pay WHERE pay.participant_id = p.id AND pay.status = 2
                      AND pay.is_active = 1 AND pay.is_deleted = 0) THEN 2 ELSE 0 END AS payment_status,
    CASE WHEN EXISTS (SELECT 1 FROM payments pay WHERE pay.participant_id = p.id AND pay.status = 2
                      AND pay.is_active = 1 AND pay.is_deleted = 0) THEN 'Yes' ELSE 'No' END AS has_successful_payment,
    (SELECT COUNT(*) FROM payments pay WHERE pay.participant_id = p.id AND pay.status = 2
        AND pay.is_active = 1 AND pay.is_deleted = 0) AS successful_payment_count,
    (SELECT SUM(pay.amount) FROM payments pay WHERE pay.participant_id = p.id AND pay.status = 2
        AND pay.is_active = 1 AND pay.is_deleted = 0) AS total_paid_amount,
    prog.name AS program_name, prog.theme AS program_theme, prog.start_date AS program_start_date,
    prog.end_date AS program_end_date, prog.program_category_id,
    (SELECT GROUP_CONCAT(CONCAT(pay.amount, ' ', pay.currency, ' (',
            CASE pay.status WHEN 0 THEN 'Pending' WHEN 1 THEN 'Processing' WHEN 2 THEN 'Success'
                            WHEN 3 THEN 'Failed' WHEN 4 THEN 'Cancelled' END, ')') SEPARATOR '; ')
       FROM payments pay WHERE pay.participant_id = p.id AND pay.is_active = 1 AND pay.is_deleted = 0)
       AS payment_details
FROM participants p
LEFT JOIN users u ON p.user_id = u.id AND u.is_active = 1 AND u.is_deleted = 0
LEFT JOIN participant_statuses ps ON p.id = ps.participant_id AND ps.is_active = 1 AND ps.is_deleted = 0
LEFT JOIN programs prog ON p.program_id = prog.id AND prog.is_active = 1 AND prog.is_deleted = 0
WHERE p.is_active = 1 AND p.is_deleted = 0
ORDER BY p.created_at DESC
"""

# What the original's cleanup takes out of texts: the C0 control characters openpyxl/Excel refuse.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def template_fields(template: str = TEMPLATE) -> list[tuple[str, str]]:
    """(field, header) of the template's columns, as the export engine loads them."""
    from ybb_engine.templates import load_templates

    kind, name = template.split("/")
    return [(column.field, column.header) for column in load_templates().get(kind, name).columns]


def check_original_sql() -> None:
    """ORIGINAL_PARTICIPANTS_SQL selects what the source declares: the same output names, in order."""
    from ybb_engine.sources import SourceCatalog

    source = SourceCatalog.load().get(SOURCE)
    flat = ORIGINAL_PARTICIPANTS_SQL.split("FROM participants p")[0].replace("SELECT DISTINCT", "")
    while "(" in flat:  # subqueries and calls, innermost parentheses first
        flat = re.sub(r"\([^()]*\)", "", flat)
    names = [re.findall(r"\w+", item)[-1] for item in flat.split(",")]  # `p.x` or `... AS x`: x
    if names != list(source.columns):
        raise AssertionError(f"ORIGINAL_PARTICIPANTS_SQL and {SOURCE} differ: {names} != {list(source.columns)}")


# --- the database -----------------------------------------------------------------------------------

@contextmanager
def seeded_mariadb(directory: Path, participants: int) -> Iterator[tuple[Any, float, dict[str, int]]]:
    """A private MariaDB with YBB's schema and `participants` participants: (server, seed seconds, rows)."""
    import ybb_database  # tests/ybb_database.py
    from databases import MariaDBServer  # tests/databases.py

    # The seeded tables are about 800 MB: a buffer pool that holds them, as a production server's would,
    # for both sides of the comparison. (The server has a tmpdir of its own: tests/databases.py.)
    MariaDBServer.buffer_pool = "2G"
    server = MariaDBServer.start(directory)
    with server:
        start = time.perf_counter()
        ybb_database.create_schema(server.admin_url)
        summary = ybb_database.seed(server.admin_url, participants=participants)
        yield server, time.perf_counter() - start, summary.as_dict()


def mariadb_available() -> bool:
    from databases import MariaDBServer

    return MariaDBServer.available()


def pymysql_connect(url: str, **kwargs: Any) -> Any:
    import pymysql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return pymysql.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 3306, user=parsed.username,
                           password=parsed.password or "", database=parsed.database, charset="utf8mb4", **kwargs)


# --- ours, end to end -----------------------------------------------------------------------------------

def post_source_export(run: Any, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """POST a source export of ybb/participants (XLSX) → 202 → poll → download, on a bench StackRun;
    the seconds from the POST to the file downloaded, and where they went."""
    body = {"source": {"name": SOURCE, "params": dict(params or {})}, "template": TEMPLATE, "format": "xlsx",
            "filename": f"bench-db-{time.monotonic_ns()}"}
    start = time.perf_counter()
    response = run.http.post(run.base + "/api/v1/exports", json=body)
    posted = time.perf_counter()
    assert response.status_code == 202, response.text
    job, done = run.poll(response.headers["Location"], timeout=1200)
    assert job["state"] == "succeeded", job
    size = run.download(job)
    end = time.perf_counter()
    created, started, finished = (datetime.fromisoformat(job[k]).timestamp()
                                  for k in ("created_at", "started_at", "finished_at"))
    return {"total": end - start, "POST (count + plan)": posted - start, "queue": max(started - created, 0.0),
            "run": finished - started, "download": end - done, "rows": job["rows"], "bytes": size}


def rss_by_kind(peaks: Mapping[str, float]) -> dict[str, float]:
    """The bench RssSampler's peaks (`name` for a stack process, `name/pid` for its children) as the max
    per kind of process."""
    kinds = {"api": ("Gunicorn master", "API workers (Gunicorn)"), "scheduler": ("Dask scheduler", "Dask scheduler"),
             "worker": ("Dask nannies", "Dask workers"), "nginx": ("Nginx master", "Nginx workers")}
    out: dict[str, float] = {}
    for label, rss in peaks.items():
        name, _, child = label.partition("/")
        root, children = kinds.get(name.split("-")[0], (name, name))
        kind = children if child else root
        out[kind] = max(out.get(kind, 0.0), rss)
    return out


# --- the original's approach ---------------------------------------------------------------------------

def original_export(url: str, path: Path, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """The original service's participants export, as it runs it: fetch everything, clean every value,
    a DataFrame of the template's fields, to_excel. Seconds from the query to the file written."""
    import pandas as pd
    import pymysql.cursors

    fields = template_fields()
    times: dict[str, float] = {}
    start = last = time.perf_counter()

    def lap(name: str, detail: str = "") -> None:
        nonlocal last
        now = time.perf_counter()
        times[name] = now - last
        last = now
        progress(f"{name}{detail}: {times[name]:.1f} s (at {now - start:.0f} s, RSS {_rss_mb():.0f} MiB)")

    with _heartbeat(progress, start):
        connection = pymysql_connect(url)
        try:
            cursor = connection.cursor(pymysql.cursors.DictCursor)
            cursor.execute(ORIGINAL_PARTICIPANTS_SQL, [])
            rows = cursor.fetchall()
        finally:
            connection.close()
        lap("query + fetchall", f" ({len(rows):,} rows x {len(rows[0]) if rows else 0} columns)")
        for row in rows:  # the original's cleanup, value by value
            for key, value in row.items():
                if isinstance(value, datetime):
                    row[key] = value.strftime("%Y-%m-%d %H:%M:%S")
                elif value is None:
                    row[key] = ""
                elif isinstance(value, str):
                    row[key] = _CONTROL.sub("", value)
        lap("cleanup loop")
        frame = pd.DataFrame(rows)[[name for name, _ in fields]]
        frame.columns = [header for _, header in fields]
        count = len(rows)
        del rows
        lap("DataFrame")
        from pandas.io.excel._util import get_default_engine

        engine = get_default_engine("xlsx", mode="writer")
        frame.to_excel(path, index=False)
        lap("to_excel", f" ({engine}, pandas' default)")
    return {"total": time.perf_counter() - start, "steps": times, "rows": count, "engine": engine,
            "bytes": path.stat().st_size, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_original(url: str, path: Path) -> dict[str, Any]:
    """original_export in a child process (its peak RSS is its own); its progress lines go to our stdout."""
    env = {**os.environ, BASELINE_URL_ENV: url}
    with subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "baseline", str(path)], env=env,
                          stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        result: dict[str, Any] | None = None
        for line in child.stdout:
            if line.startswith("{"):
                result = json.loads(line)
            else:
                print("     " + line.rstrip(), flush=True)
        child.wait()
    if child.returncode != 0 or result is None:
        raise RuntimeError(f"the original's export failed (exit {child.returncode})")
    return result


@contextmanager
def _heartbeat(progress: Callable[[str], None], start: float, every: float = 30.0) -> Iterator[None]:
    """A line every `every` seconds while a long step runs, so a slow run shows it is alive."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            progress(f"... {time.perf_counter() - start:.0f} s, RSS {_rss_mb():.0f} MiB")
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


# --- the readers ----------------------------------------------------------------------------------------

def compare_readers(url: str, repeat: int = 3, width: int = READER_RANGE) -> list[dict[str, Any]]:
    """Each reader on the key range [1, 1 + width) with the standard template's columns, through the SQL
    that ybb_engine.sources builds; median seconds of `repeat` after one untimed read (the buffer pool)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from ybb_engine.sources import SourceCatalog, reader
    from ybb_engine.sources.connections import dispose_all, env_name

    fields = [name for name, _ in template_fields()]
    query = SourceCatalog.load().bind(SOURCE, {}, 10**7)
    sql = query.read_sql(fields, ranged=True)
    values = query.read_values(1, 1 + width)
    parsed = make_url(url)

    def ours() -> int:
        return reader.read(reader.SourceRange(query.source.connection, sql, values, tuple(fields))).num_rows

    def dict_cursor() -> int:
        import pymysql.cursors

        pyformat = re.sub(r":(\w+)", r"%(\1)s", sql.replace("%", "%%"))
        with pymysql_connect(url) as connection, connection.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(pyformat, values)
            return len(cursor.fetchall())

    def connectorx() -> int:
        import connectorx as cx

        literal = re.sub(r":(range_low|range_high)\b", lambda m: str(int(values[m.group(1)])), sql)
        address = (f"mysql://{parsed.username}:{parsed.password}@{parsed.host}:{parsed.port or 3306}/"
                   f"{parsed.database}")
        return cx.read_sql(address, literal, return_type="arrow").num_rows

    engine = sa.create_engine(url)

    def pandas_read_sql() -> int:
        import pandas as pd

        with engine.connect() as connection:
            return len(pd.read_sql(sa.text(sql), connection, params=values))

    readers: list[tuple[str, Callable[[], int]]] = [
        ("ours: ybb_engine.sources.reader.read (SQLAlchemy + PyMySQL stream → Arrow)", ours),
        ("PyMySQL DictCursor fetchall (the original's)", dict_cursor),
        (f"connectorx {_version('connectorx')} read_sql(return_type='arrow')", connectorx),
        ("pandas.read_sql over SQLAlchemy (PyMySQL)", pandas_read_sql),
    ]
    if shutil.which("mariadb"):
        def mariadb_cli() -> int:  # a reference, not a reader: what the server and a C client take
            literal = re.sub(r":(range_low|range_high)\b", lambda m: str(int(values[m.group(1)])), sql)
            done = subprocess.run(["mariadb", "--batch", "--skip-column-names", "-h", parsed.host or "127.0.0.1",
                                   "-P", str(parsed.port or 3306), "-u", str(parsed.username), str(parsed.database),
                                   "-e", literal], env={**os.environ, "MYSQL_PWD": parsed.password or ""},
                                  capture_output=True, check=True)
            return done.stdout.count(b"\n")
        readers.append(("reference: the mariadb client to a pipe (server + C client)", mariadb_cli))
    variable = env_name(query.source.connection)
    previous = os.environ.get(variable)
    os.environ[variable] = url
    results = []
    try:
        for name, read in readers:
            try:
                rows = read()
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    read()
                    times.append(time.perf_counter() - start)
                seconds = statistics.median(times)
                results.append({"reader": name, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds})
            except Exception as exc:  # a reader that is missing or fails is reported, not fatal
                results.append({"reader": name, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    finally:
        dispose_all()
        engine.dispose()
        if previous is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous
    return results


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "(not installed)"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "baseline":
        url = os.environ.get(BASELINE_URL_ENV)
        if not url:
            raise SystemExit(f"{BASELINE_URL_ENV} must hold the SQLAlchemy URL of the YBB database")
        result = original_export(url, Path(argv[1]), progress=lambda line: print(line, flush=True))
        print(json.dumps(result), flush=True)
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
