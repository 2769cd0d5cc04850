"""Benchmark of the export engine against the usual Python XLSX writers, and end to end
through the real stack (Nginx → Gunicorn → Dask).

    .venv/bin/python bench/run.py              # the full run: every table, targets, PASS/MISS
    .venv/bin/python bench/run.py --quick      # small sizes, one repeat: a smoke test (targets not judged)
    .venv/bin/python bench/run.py --only engine,e2e --rows 20000 --repeat 1
    .venv/bin/python bench/run.py --only database  # the database section alone (bench/database.py)

Same generated data for every writer: participants-like records from tests/samples.py,
20 mixed columns (integers, texts in many scripts, dates, date-times, enums, booleans).
Each figure is the median of --repeat runs (3 by default). The baselines write the records'
values as they are (no parsing or validation); the engine parses, validates, applies the
template and the safety rules, and writes a formatted workbook.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "services" / "scheduler"), str(ROOT / "services" / "api"), str(ROOT / "scripts")]
sys.path.append(str(ROOT / "tests"))  # for samples.py, the generated records (test data, not the engine's)

import orjson  # noqa: E402
import psutil  # noqa: E402

import database  # noqa: E402  (bench/database.py)
import samples  # noqa: E402  (tests/samples.py)
from ybb_engine import fastexport, pipeline  # noqa: E402
from ybb_engine.jobstore import SqliteJobStore  # noqa: E402
from ybb_engine.layout import DataLayout  # noqa: E402
from ybb_engine.lifecycle import Job  # noqa: E402
from ybb_engine.tasks import JobRef  # noqa: E402
from ybb_engine.partitions import write_partitions  # noqa: E402
from ybb_engine.spec import ExportSpec, build_spec  # noqa: E402
from ybb_engine.templates import load_templates  # noqa: E402

TEMPLATE = "participants/complete"
FIELDS = ["id", "full_name", "email", "gender", "birthdate", "nationality", "institution", "phone_number",
          "category", "experiences", "program_id", "is_active", "created_at", "updated_at", "account_id", "major",
          "tshirt_size", "picture_url", "ref_code_ambassador", "education_level"]
REQUEST = {"template": TEMPLATE, "select": FIELDS}
# Rows per partition, the API's PARTITION_ROWS default: 5,000 spreads 50,000 rows evenly
# over two workers (10 tasks, not 5).
PARTITION_ROWS = 5_000
MAX_SHEET_ROWS = 1_048_575
RSS_LIMIT_MB = 500
UPLOAD_CONNECTIONS = 2


def records(n: int) -> list[dict]:
    return [{k: r[k] for k in FIELDS} for r in samples.participants(n, seed=1)]


def median_time(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# --- the baselines ------------------------------------------------------------------------------

def pandas_to_excel(rows: list[dict], path: Path) -> None:
    import pandas as pd

    pd.DataFrame.from_records(rows, columns=FIELDS).to_excel(path, index=False, engine="openpyxl")


def xlsxwriter_constant_memory(rows: list[dict], path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, FIELDS)
    for r, row in enumerate(rows, start=1):
        sheet.write_row(r, 0, [row[k] for k in FIELDS])
    book.close()


def openpyxl_write_only(rows: list[dict], path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(FIELDS)
    for row in rows:
        sheet.append([row[k] for k in FIELDS])
    book.save(path)


# --- the engine -----------------------------------------------------------------------------------

class Engine:
    """The export graph on a local Dask cluster of worker processes, from NDJSON partitions on disk
    (as the API stores them) to the final file, as pipeline.submit_export runs it in production."""

    def __init__(self, workers: int, directory: Path):
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", silence_logs=40)
        self.client = Client(self.cluster)
        self.client.run(lambda: __import__("ybb_engine.tasks"))
        self.directory = directory
        self.layout = DataLayout(directory)
        self.store = SqliteJobStore(self.layout.sqlite_path)
        self.spec = build_spec(REQUEST, load_templates()).to_dict()
        self.count = 0
        # Production workers are long-lived: one small export first, so the figures are not the first
        # call's (imports, Arrow kernels, zone data).
        for _ in range(2):
            self.run(*self.stage(records(2 * PARTITION_ROWS)))

    def stage(self, rows: list[dict], spec: dict | None = None) -> tuple[JobRef, list]:
        self.count += 1
        spec = spec or self.spec
        job_id = f"bench{self.count}"
        parts = write_partitions(rows, self.layout.input_dir(job_id), PARTITION_ROWS)
        now = time.time()
        self.store.create(Job(id=job_id, tenant="bench", state="queued", format="xlsx", filename="out.xlsx",
                              spec=spec, partitions=len(parts), rows_total=len(rows), created_at=now,
                              expires_at=now + 3600))
        return JobRef(job_id, self.store.location, str(self.directory), spec, "out.xlsx"), parts

    def run(self, ref: JobRef, parts: list) -> dict:
        outcome = pipeline.submit_export(self.client, ref, parts).result()
        assert outcome["state"] == "succeeded", self.store.get(ref.job_id)
        return outcome

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def engine_median(engine: Engine, rows: list[dict], repeat: int, spec: dict | None = None) -> tuple[float, dict]:
    times, stages = [], []
    for _ in range(repeat):
        ref, parts = engine.stage(rows, spec)
        with stage_times(engine.client) as spans:
            start = time.perf_counter()
            engine.run(ref, parts)
            times.append(time.perf_counter() - start)
        stages.append(dict(spans))
        engine.layout.remove_job(ref.job_id)
    best = statistics.median(times)
    return best, stages[times.index(sorted(times)[len(times) // 2])]


@contextmanager
def stage_times(client):
    """Wall time of each stage of the graph (first start to last end of its tasks), from Dask's task stream."""
    from distributed import get_task_stream

    spans: dict[str, float] = {}
    with get_task_stream(client) as stream:
        yield spans
    edges: dict[str, list[float]] = {}
    for task in stream.data:
        key = task["key"] if isinstance(task["key"], str) else str(task["key"])
        stage = key.split("-")[1] if key.startswith("ybb-") else "other"
        for part in task["startstops"]:
            if part["action"] == "compute":
                low, high = edges.setdefault(stage, [part["start"], part["stop"]])
                edges[stage] = [min(low, part["start"]), max(high, part["stop"])]
    names = {"write": "merge"}
    if "render" not in edges:  # the fused graph: prepare_render tasks carry the prepare key
        names["prepare"] = "prepare+render"
    spans.update({names.get(stage, stage): high - low for stage, (low, high) in edges.items()})


# --- end to end -------------------------------------------------------------------------------------

class RssSampler:
    """Peak resident memory of every process of the stack (each process of each tree), sampled."""

    def __init__(self, roots: dict[str, int], interval: float = 0.05):
        self.roots, self.interval = roots, interval
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.roots.items():
                try:
                    root = psutil.Process(pid)
                    family = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for number, proc in enumerate(family):
                    label = name if number == 0 else f"{name}/{proc.pid}"
                    try:
                        rss = proc.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                    self.peaks[label] = max(self.peaks.get(label, 0.0), rss)
            time.sleep(self.interval)


class StackRun:
    def __init__(self, directory: Path, workers: int = 2, extra_env: dict[str, str] | None = None):
        from devstack import Stack, StackConfig, find_nginx

        if find_nginx() is None:
            raise SystemExit("nginx is not installed: the end-to-end benchmark runs the real stack (make test installs it)")
        config = StackConfig(
            var=directory / "var", scheduler_port=free_port(), dashboard_port=free_port(), api_port=free_port(),
            https_port=free_port(), http_port=free_port(), workers=workers, gunicorn_workers=2,
            extra_env={"LOG_LEVEL": "warning", "PARTITION_ROWS": str(PARTITION_ROWS),
                       **(extra_env or {})},
            nginx_limits={"RATE_LIMIT_PER_IP": "1000r/s", "RATE_LIMIT_PER_KEY": "1000r/s", "RATE_LIMIT_BURST": "1000"},
        )
        self.stack = Stack(config)
        self.stack.start()
        self.stack.wait_ready()
        import requests

        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = str(config.cert)
        self.http.headers["X-API-Key"] = (config.var / "dev-api-key").read_text().strip()
        self.base = config.base_url
        self.scheduler = config.scheduler_address  # mutual TLS: every Client passes self.security
        self.security = config.dask_security()
        # Long-lived workers in production: warm them (imports, Arrow kernels) before measuring.
        for _ in range(2):
            e2e_post(self, records(2 * PARTITION_ROWS))

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.stack.processes.items()}

    def poll(self, location: str, timeout: float = 600) -> tuple[dict, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.http.get(location).json()
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job, time.perf_counter()
            time.sleep(0.05)
        raise TimeoutError(location)

    def download(self, job: dict) -> int:
        response = self.http.get(job["links"]["file"])
        response.raise_for_status()
        return len(response.content)

    def close(self) -> None:
        self.stack.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job_times(job: dict) -> tuple[float, float, float]:
    """created, started, finished (epoch seconds) from the job's ISO times."""
    from datetime import datetime

    def epoch(text):
        return datetime.fromisoformat(text).timestamp()
    return epoch(job["created_at"]), epoch(job["started_at"]), epoch(job["finished_at"])


def e2e_post(run: StackRun, rows: list[dict]) -> dict:
    from distributed import Client

    body = orjson.dumps({**REQUEST, "records": rows, "mode": "async", "filename": f"bench-{time.monotonic_ns()}"})  # no result-cache hit
    with Client(run.scheduler, security=run.security, set_as_default=False) as client, stage_times(client) as spans:
        start = time.perf_counter()
        response = run.http.post(run.base + "/api/v1/exports", data=body, headers={"Content-Type": "application/json"})
        posted = time.perf_counter()
        assert response.status_code == 202, response.text
        job, done = run.poll(response.headers["Location"])
        size = run.download(job)
        end = time.perf_counter()
    assert job["state"] == "succeeded" and job["rows"] == len(rows), job
    created, started, finished = job_times(job)
    return {"total": end - start, "upload/parse": posted - start, "queue": max(started - created, 0.0),
            **_stages(spans), "poll lag": max(done - start - (finished - created) - (posted - start), 0.0),
            "download": end - done, "bytes": size}


def e2e_upload(run: StackRun, total: int, batch_rows: int = 50_000) -> dict:
    from distributed import Client

    batch = records(min(batch_rows, total))
    ndjson = b"".join(orjson.dumps(r) + b"\n" for r in batch)
    with Client(run.scheduler, security=run.security, set_as_default=False) as client, stage_times(client) as spans:
        start = time.perf_counter()
        created = run.http.post(run.base + "/api/v1/exports",
                                json={**REQUEST, "upload": True, "expected_rows": total, "filename": "big"})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        sizes = [min(batch_rows, total - start) for start in range(0, total, batch_rows)]

        def send(n: int) -> None:
            data = ndjson if n == len(batch) else b"".join(orjson.dumps(r) + b"\n" for r in batch[:n])
            answer = run.http.post(f"{run.base}/api/v1/exports/{job_id}/records", data=data,
                                   headers={"Content-Type": "application/x-ndjson"})
            assert answer.status_code == 200, answer.text

        # Two batches in flight, as a PHP client with two connections: one per Gunicorn worker.
        with ThreadPoolExecutor(UPLOAD_CONNECTIONS) as pool:
            list(pool.map(send, sizes))
        uploaded = time.perf_counter()
        committed = run.http.post(f"{run.base}/api/v1/exports/{job_id}/commit")
        assert committed.status_code == 202, committed.text
        job, done = run.poll(f"{run.base}/api/v1/exports/{job_id}")
        size = run.download(job)
        end = time.perf_counter()
    assert job["state"] == "succeeded" and job["rows"] == total, job
    return {"total": end - start, "upload": uploaded - start, **_stages(spans), "download": end - done, "bytes": size}


def _stages(spans: dict[str, float]) -> dict[str, float]:
    """The graph's stages in order (prepare, plan, render, merge; or prepare+render, merge when fused)."""
    order = ["prepare+render", "prepare", "plan", "scatter", "shuffle", "render", "merge"]
    return {name: spans[name] for name in order if name in spans}


# --- the database (bench/database.py) ----------------------------------------------------------------

DB_RATIO_TARGET = 20


def database_section(report: Report, directory: Path, workers: int, repeat: int, participants: int) -> None:
    """5. Exports read from MariaDB: ours through the real stack against the original's fetchall → pandas,
    on the same seeded database; then the readers against each other on one key range."""
    judged = participants == database.PARTICIPANTS
    if not database.mariadb_available():
        print("\n5. Database export: skipped, MariaDB is not installed (make databases installs it)")
        report.target(f"source export >= {DB_RATIO_TARGET}x faster than the original's", "skipped: no MariaDB",
                      False, judged)
        return
    database.check_original_sql()
    print(f"\n5. Database export: {database.SOURCE} with {database.TEMPLATE}, {participants:,} participants "
          f"seeded in a private MariaDB (tests/databases.py, tests/ybb_database.py)", flush=True)
    with database.seeded_mariadb(directory, participants) as (server, seed_seconds, seeded):
        print(f"  seed: {seed_seconds:.1f} s (" + ", ".join(f"{k} {v:,}" for k, v in seeded.items())
              + "); not part of any figure below", flush=True)

        readers = database.compare_readers(server.readonly_url, repeat)
        first = readers[0]
        print(f"\n  5a. Readers, one key range of {database.READER_RANGE:,} participants "
              f"({first.get('rows', 0):,} rows), the standard template's {len(database.template_fields())} "
              f"columns, median of {repeat}:")
        print(f"    {'reader':<78} {'s':>6} {'rows/s':>9}")
        for result in readers:
            if "error" in result:
                print(f"    {result['reader']:<78} skipped: {result['error']}")
            else:
                print(f"    {result['reader']:<78} {result['seconds']:>6.2f} {result['rows_per_s']:>9,.0f}")

        run = StackRun(directory / "database", workers, extra_env={"SOURCE_YBB_URL": server.readonly_url})
        try:
            db_source_export(run, {"country": "United States"})  # warm the workers' source reads and pools
            with RssSampler(run.pids()) as sampler:
                ours = db_source_export(run)
        finally:
            run.close()
        kinds = database.rss_by_kind(sampler.peaks)
        print(f"\n  5b. Ours, end to end through Nginx: POST source export ({ours['rows']:,} rows, xlsx) → 202 → "
              f"poll → download: {ours['total']:.2f} s")
        print("    " + ", ".join(f"{k} {v:.2f}s" for k, v in ours.items() if k not in ("total", "rows", "bytes"))
              + f"; file {ours['bytes'] / 2**20:.1f} MiB")
        print("    peak RSS per kind of process (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in kinds.items()))

        print("\n  5c. The original's approach: PyMySQL DictCursor fetchall of its full participants query, its "
              "cleanup loop, pandas.DataFrame → to_excel (progress as it runs):", flush=True)
        baseline = database.run_original(server.readonly_url, directory / "original.xlsx")
        print(f"    total {baseline['total']:.2f} s for {baseline['rows']:,} rows ("
              + ", ".join(f"{k} {v:.1f}s" for k, v in baseline["steps"].items())
              + f"); file {baseline['bytes'] / 2**20:.1f} MiB; peak RSS {baseline['peak_rss_mb']:.0f} MiB")

    ratio = baseline["total"] / ours["total"]
    peak_kind, peak = max(kinds.items(), key=lambda kv: kv[1])
    ratio_verdict = report.target(f"source export {ours['rows']:,} rows >= {DB_RATIO_TARGET}x faster than "
                                  "the original's",
                                  f"{ratio:.1f}x ({baseline['total']:.0f} s / {ours['total']:.1f} s)",
                                  ratio >= DB_RATIO_TARGET, judged)
    rss_verdict = report.target(f"source export: every process < {RSS_LIMIT_MB} MB peak RSS",
                                f"max {peak:.0f} MiB ({peak_kind})", peak < RSS_LIMIT_MB, judged)
    print(f"\n  ratio original / ours: {baseline['total']:.2f} s / {ours['total']:.2f} s = {ratio:.1f}x; "
          f"target ≥ {DB_RATIO_TARGET}×: {ratio_verdict}")
    print(f"  every process < {RSS_LIMIT_MB} MB: {rss_verdict} (max {peak:.0f} MiB, {peak_kind})")


def db_source_export(run: StackRun, params: dict | None = None) -> dict:
    """database.post_source_export with the graph's stages from Dask's task stream."""
    from distributed import Client

    with Client(run.scheduler, security=run.security, set_as_default=False) as client, stage_times(client) as spans:
        result = database.post_source_export(run, params)
        time.sleep(1.0)  # the job turns succeeded inside the merge task: let the task stream see its end
    stages = {("read+prepare" if k == "prepare" else k): v for k, v in _stages(spans).items()}
    head = {k: result[k] for k in ("total", "POST (count + plan)", "queue")}
    return {**head, **stages, **{k: v for k, v in result.items() if k not in head and k != "run"}}


# --- the report -------------------------------------------------------------------------------------

class Report:
    def __init__(self, judge: bool):
        self.judge = judge
        self.targets: list[tuple[str, str, bool, bool]] = []

    def target(self, name: str, shown: str, ok: bool, judged: bool = True) -> str:
        """Record a target; returns its verdict (PASS, MISS, or n/a when the sizes are not the target's)."""
        self.targets.append((name, shown, ok, judged))
        return self.verdict(ok, judged)

    def verdict(self, ok: bool, judged: bool = True) -> str:
        return ("PASS" if ok else "MISS") if self.judge and judged else "n/a"

    def print_targets(self) -> None:
        print("\nTargets" + ("" if self.judge else " (--quick: sizes below the targets', not judged)"))
        print(f"  {'target':<62} {'measured':<28} result")
        for name, shown, ok, judged in self.targets:
            print(f"  {name:<62} {shown:<28} {self.verdict(ok, judged)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 / 20,000 / 50,000 rows, one repeat")
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure (median); default 3, 1 with --quick")
    parser.add_argument("--rows", type=int, default=None, help="rows of the writer comparison (default 50,000)")
    parser.add_argument("--only", default="writers,engine,e2e,upload,database",
                        help="comma-separated parts: writers, engine, e2e, upload, database")
    parser.add_argument("--skip-database", action="store_true",
                        help="leave out the database section (BENCH_ARGS=--skip-database with make bench)")
    parser.add_argument("--participants", type=int, default=None,
                        help=f"participants seeded for the database section (default {database.PARTICIPANTS:,}; "
                             "50,000 with --quick; targets judged only at the default)")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    if args.skip_database:
        parts.discard("database")
    participants = args.participants or (50_000 if args.quick else database.PARTICIPANTS)
    repeat = args.repeat or (1 if args.quick else 3)
    small = args.rows or (5_000 if args.quick else 50_000)
    large = 20_000 if args.quick else 500_000
    e2e_rows = 5_000 if args.quick else 50_000
    upload_rows = 50_000 if args.quick else MAX_SHEET_ROWS
    judge = not args.quick and args.rows is None
    report = Report(judge)
    print(f"YBB export benchmark — {time.strftime('%Y-%m-%d %H:%M %Z')}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB; {load()}")
    print(f"data: {TEMPLATE}, {len(FIELDS)} columns ({', '.join(FIELDS[:6])}, ...); median of {repeat}")
    directory = Path(tempfile.mkdtemp(prefix="ybb-bench-"))
    try:
        rows = records(small)
        engine = None
        if parts & {"writers", "engine"}:
            engine = Engine(args.workers, directory)
            engine_time, engine_stages = engine_median(engine, rows, repeat)
            print(f"\n1. Writers, {small:,} rows x {len(FIELDS)} columns (seconds; ratio = writer time / engine time)")
            print(f"  {'writer':<48} {'median s':>9} {'ratio':>8}")
            print(f"  {'ybb engine (Dask, ' + str(args.workers) + ' worker processes)':<48} {engine_time:>9.2f} {1:>8.1f}")
            print("     stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in engine_stages.items()))
            serial = median_time(lambda: fastexport.run_local(
                [rows[i:i + PARTITION_ROWS] for i in range(0, len(rows), PARTITION_ROWS)],
                ExportSpec.from_dict(engine.spec), directory / "serial.xlsx", directory / "serial-work"), repeat)
            print(f"  {'ybb engine, one process (fastexport.run_local)':<48} {serial:>9.2f} {serial / engine_time:>8.1f}")
            ordered = build_spec({**REQUEST, "sort": ["nationality", "-created_at"], "dedupe": "email"},
                                 load_templates()).to_dict()
            sorted_time, sorted_stages = engine_median(engine, rows, repeat, ordered)
            print(f"  {'ybb engine, sort + dedupe (general graph)':<48} {sorted_time:>9.2f} "
                  f"{sorted_time / engine_time:>8.1f}")
            print("     stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted_stages.items()))
            if "writers" in parts:
                baselines = {"xlsxwriter (constant_memory)": xlsxwriter_constant_memory,
                             "openpyxl (write_only)": openpyxl_write_only,
                             "pandas DataFrame.to_excel (openpyxl engine)": pandas_to_excel}
                measured = {}
                for name, writer in baselines.items():
                    measured[name] = median_time(lambda w=writer: w(rows, directory / "baseline.xlsx"), repeat)
                    print(f"  {name:<48} {measured[name]:>9.2f} {measured[name] / engine_time:>8.1f}")
                x = measured["xlsxwriter (constant_memory)"] / engine_time
                p = measured["pandas DataFrame.to_excel (openpyxl engine)"] / engine_time
                report.target(f"engine {small:,} rows >= 10x faster than xlsxwriter", f"{x:.1f}x", x >= 10)
                report.target(f"engine {small:,} rows >= 20x faster than pandas to_excel", f"{p:.1f}x", p >= 20)
            if "engine" in parts:
                big = records(large)
                big_time, big_stages = engine_median(engine, big, repeat)
                del big
                print(f"\n2. Engine alone, {large:,} rows: {big_time:.2f} s  ("
                      + ", ".join(f"{k} {v:.2f}s" for k, v in big_stages.items()) + ")")
                report.target(f"engine {large:,} rows < 10 s", f"{big_time:.2f} s", big_time < 10)
            engine.close()
        if parts & {"e2e", "upload"}:
            run = StackRun(directory, args.workers)
            try:
                if "e2e" in parts:
                    e2e_records = records(e2e_rows)
                    results = [e2e_post(run, e2e_records) for _ in range(repeat)]
                    totals = [r["total"] for r in results]
                    mid = results[totals.index(sorted(totals)[len(totals) // 2])]
                    print(f"\n3. End to end through Nginx, {e2e_rows:,} records as one JSON POST "
                          f"(202 → poll → download), median of {repeat}:")
                    print("  " + ", ".join(f"{k} {v:.2f}s" for k, v in mid.items() if k != "bytes")
                          + f"; file {mid['bytes'] / 2**20:.1f} MiB")
                    report.target(f"end to end {e2e_rows:,} records < 3 s", f"{mid['total']:.2f} s", mid["total"] < 3)
                if "upload" in parts:
                    with RssSampler(run.pids()) as sampler:
                        big = e2e_upload(run, upload_rows)
                    print(f"\n4. End to end, {upload_rows:,} records by batched upload (50,000-record NDJSON batches, "
                          f"{UPLOAD_CONNECTIONS} in flight), then commit → poll → download:")
                    print("  " + ", ".join(f"{k} {v:.2f}s" for k, v in big.items() if k != "bytes")
                          + f"; file {big['bytes'] / 2**20:.1f} MiB")
                    print("  peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(sampler.peaks.items())))
                    peak_name, peak = max(sampler.peaks.items(), key=lambda kv: kv[1])
                    report.target(f"batched upload {upload_rows:,} rows end to end < 40 s", f"{big['total']:.2f} s",
                                  big["total"] < 40)
                    report.target(f"every process < {RSS_LIMIT_MB} MB peak RSS", f"max {peak:.0f} MiB ({peak_name})",
                                  peak < RSS_LIMIT_MB)
            finally:
                run.close()
        if "database" in parts:
            database_section(report, directory, args.workers, repeat, participants)
        report.print_targets()
        print(f"\n{load()} at the end")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
