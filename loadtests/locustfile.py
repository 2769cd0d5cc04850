"""Load tests of the YBB Data Management Service, with locust (see loadtests/README.md).

Run it through `loadtests/run.py` (`make loadtest`, `make loadtest-quick`), which starts the
stack when needed and writes the reports under var/reports/. Locust (gevent) patches the
standard library, so this file runs in its own virtualenv (.venv-locust) and its own
process: nothing here is ever imported by the API or by pytest.

Scenarios: one User class each, tagged with its name, so that `--tags php_small_sync`
(or naming the class: `locust -f loadtests/locustfile.py PhpSmallSync`) runs it alone.

    php_small_sync    (weight 10)  50-500 participants -> XLSX, synchronous (201), download, check
    status_polling    (weight 4)   GET /api/v1/exports/{id}
    template_listing  (weight 3)   GET /api/v1/templates, GET /api/v1/templates/{type}/{name}
    large_async_50k   (weight 1)   50,000 participants (complete and standard templates), 202, poll
                                   with Retry-After, download; event "export_50k_end_to_end"
    batched_upload    (weight 1)   upload job, 5 batches of 20,000, commit, poll, download;
                                   event "batched_upload_100k_end_to_end"
    abuse             (1 user)     bursts from another source address (127.0.0.2) and its own key;
                                   429 is the expected answer, 5xx a failure

The records come from records.py next to this file (seeded: the load tests are a black-box
client and import nothing from the project), generated and serialised once per process in the
init listener, before the clock starts: generation is never measured. A few small exports
warm the stack up before the clock starts too (--no-warm-up to skip them).

The gate: a `quitting` listener compares locust's own stats with loadtests/thresholds.toml
and sets environment.process_exit_code.
"""
from __future__ import annotations

import ipaddress
import itertools
import json
import logging
import random
import time
import tomllib
import uuid
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
from gevent.pool import Pool
from locust import HttpUser, between, events, tag, task
from locust.clients import LocustHttpAdapter
from locust.runners import MasterRunner, WorkerRunner

# loadtests/records.py: locust puts the locustfile's directory on sys.path while importing it.
from records import participants

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("ybb.loadtest")

JSON = "application/json"
NDJSON = "application/x-ndjson"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_SIGNATURE = b"PK\x03\x04"
TERMINAL = {"succeeded", "failed", "cancelled", "expired"}
STATES = TERMINAL | {"awaiting_records", "queued", "running"}
TIMEOUT = (10, 600)  # connect, read (a 100,000-row batch can take a while to be accepted)
SCENARIOS = ("php_small_sync", "large_async_50k", "batched_upload", "status_polling", "template_listing", "abuse")


# -- options ---------------------------------------------------------------------------------
@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("YBB load tests (loadtests/README.md)")
    group.add_argument("--api-key", env_var="YBB_LOADTEST_API_KEY", default="",
                       help="API key of the honest users (default: the contents of --api-key-file)")
    group.add_argument("--api-key-file", env_var="YBB_LOADTEST_API_KEY_FILE", default=str(ROOT / "var" / "dev-api-key"))
    group.add_argument("--abuse-key", env_var="YBB_LOADTEST_ABUSE_KEY", default="",
                       help="API key of the abuse user; a second key so that its bursts use another per-key bucket")
    group.add_argument("--abuse-key-file", env_var="YBB_LOADTEST_ABUSE_KEY_FILE", default="",
                       help="file holding it; with neither, the abuse user sends no key (401 and 429 expected)")
    group.add_argument("--abuse-source", env_var="YBB_LOADTEST_ABUSE_SOURCE", default="auto",
                       help="local address the abuse user sends from, so that the per-IP limits see another "
                            "client; 'auto' = 127.0.0.2 when the host is a loopback address, 'none' = default route")
    group.add_argument("--abuse-burst", type=int, default=120, help="requests in one burst")
    group.add_argument("--abuse-concurrency", type=int, default=40,
                       help="concurrent requests within a burst: above the per-IP connection limit, so that "
                            "the burst meets 429s even when a busy backend slows it below the rate limit")
    group.add_argument("--ca-cert", env_var="YBB_LOADTEST_CA_CERT", default=str(ROOT / "var" / "tls" / "cert.pem"),
                       help="CA bundle that verifies the server ('system' = the certifi bundle). "
                            "REQUESTS_CA_BUNDLE and proxy variables are ignored")
    group.add_argument("--thresholds", default=str(ROOT / "loadtests" / "thresholds.toml"))
    group.add_argument("--relaxed-thresholds", action="store_true", default=False,
                       help="skip the latency thresholds (smoke runs); the failure and 5xx gates still apply")
    group.add_argument("--php-mode", choices=("auto", "sync"), default="auto",
                       help="mode of php_small_sync's exports; 'sync' where SYNC_MAX_ROWS < 500 (the test stack)")
    group.add_argument("--large-rows", type=int, default=50_000, help="records of one large_async export")
    group.add_argument("--batches", type=int, default=5, help="batches of one batched_upload export")
    group.add_argument("--batch-rows", type=int, default=20_000, help="records per batch")
    group.add_argument("--seed", type=int, default=2024, help="seed of the generated records (records.py)")
    group.add_argument("--no-warm-up", dest="warm_up", action="store_false", default=True,
                       help="skip the few unmeasured small exports sent before the clock starts")
    group.add_argument("--one-of-each", action="store_true", default=False,
                       help="one user per selected scenario, whatever the weights (smoke runs; -u must be >= their number)")


def _read_key(value: str, path: str) -> str:
    if value:
        return value.strip()
    if path and Path(path).is_file():
        return Path(path).read_text().strip()
    return ""


def _rows_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def large_event_name(rows: int) -> str:
    return f"export_{_rows_label(rows)}_end_to_end"


def batched_event_name(rows: int) -> str:
    return f"batched_upload_{_rows_label(rows)}_end_to_end"


# -- bodies: generated and serialised once per process, before any user starts -----------------
class Bodies:
    php: list[tuple[int, bytes]] = []            # (rows, JSON body)
    large: dict[str, tuple[int, bytes]] = {}     # template -> (rows, JSON body)
    batches: list[tuple[str, bytes]] = []        # (content type, body)
    batch_rows_total: int = 0


def _dumps(value: Any) -> bytes:
    # PHP's json_encode escapes non-ASCII by default; so does json.dumps.
    return json.dumps(value, separators=(",", ":")).encode()


def _export_body(template: str, records: list[dict], mode: str) -> bytes:
    return _dumps({"template": template, "format": "xlsx", "mode": mode, "records": records})


def unique(body: bytes, scenario: str) -> bytes:
    """The same body with a filename of its own: the API answers an identical export of the same
    tenant from its result cache (RESULT_CACHE), which would measure the cache, not the export.
    The filename is part of the cache key and changes nothing in the file."""
    return b'{"filename":"loadtest-%s-%s",%s' % (scenario.encode(), uuid.uuid4().hex.encode(), body[1:])


def prepare_bodies(options: Any, selected: set[str]) -> None:
    started = time.perf_counter()
    seed = options.seed
    if {"php_small_sync", "status_polling"} & selected:
        records = participants(500, seed=seed)
        Bodies.php = [(n, _export_body("participants/standard", records[:n], options.php_mode))
                      for n in range(50, 501, 50)]
    if "large_async_50k" in selected:
        records = participants(options.large_rows, seed=seed + 1)
        array = _dumps(records)
        Bodies.large = {
            template: (len(records), b'{"template":"%s","format":"xlsx","mode":"async","records":%s}'
                       % (template.encode(), array))
            for template in ("participants/complete", "participants/standard")
        }
    if "batched_upload" in selected:
        records = participants(options.batches * options.batch_rows, seed=seed + 2)
        Bodies.batches = []
        for i in range(options.batches):
            chunk = records[i * options.batch_rows:(i + 1) * options.batch_rows]
            if i % 2:  # every other batch as NDJSON, as a PHP app streaming rows would send them
                Bodies.batches.append((NDJSON, b"\n".join(_dumps(r) for r in chunk) + b"\n"))
            else:
                Bodies.batches.append((JSON, _dumps(chunk)))
        Bodies.batch_rows_total = len(records)
    log.info("bodies for %s prepared in %.1f s (not measured)", ", ".join(sorted(selected)),
             time.perf_counter() - started)


# -- counters that locust's stats don't keep (summed over workers in distributed runs) ----------
COUNTERS: Counter[str] = Counter()


@events.request.add_listener
def _count(name: str, response: Any = None, exception: Any = None, **kw: Any) -> None:
    status = getattr(response, "status_code", None) or 0
    if status >= 500:
        COUNTERS["5xx"] += 1
        COUNTERS[f"5xx {name}"] += 1
    if status == 429:
        COUNTERS["429 expected" if name.startswith("abuse") else "429 honest"] += 1


@events.report_to_master.add_listener
def _send_counters(client_id: str, data: dict) -> None:
    data["ybb_counters"] = dict(COUNTERS)
    COUNTERS.clear()


@events.worker_report.add_listener
def _receive_counters(client_id: str, data: dict) -> None:
    COUNTERS.update(data.get("ybb_counters", {}))


# -- scenario selection and set-up ---------------------------------------------------------------
def _selected(environment: Any) -> set[str]:
    return {u.scenario for u in environment.user_classes if getattr(u, "scenario", None)}


@events.init.add_listener
def _init(environment: Any, **kw: Any) -> None:
    """Keep only the scenarios chosen with --tags/--exclude-tags: a User class whose tasks were
    all filtered out would fail when spawned."""
    _ENVIRONMENT[:] = [environment]
    options = environment.parsed_options
    if options is None:
        return
    tags = set(options.tags or [])
    excluded = set(options.exclude_tags or [])
    for user_class in list(environment.user_classes):
        scenario = getattr(user_class, "scenario", None)
        if scenario and ((tags and scenario not in tags) or scenario in excluded):
            environment.user_classes.remove(user_class)
    if not environment.user_classes:
        raise SystemExit(f"no scenario selected; the tags are: {', '.join(SCENARIOS)}")
    if options.one_of_each:
        for user_class in environment.user_classes:
            user_class.fixed_count = 1
    # Here rather than in test_start: locust's --run-time clock is already running then.
    if not isinstance(environment.runner, MasterRunner):
        prepare_bodies(options, _selected(environment))
    if not isinstance(environment.runner, WorkerRunner) and options.warm_up and environment.host:
        warm_up(environment.host, options)


def warm_up(host: str, options: Any) -> None:
    """A few small synchronous exports before the clock starts, so that the first measured
    requests don't pay the Dask workers' and Gunicorn's imports. Not measured, not gated."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = True if options.ca_cert in ("", "system") else options.ca_cert
    key = _read_key(options.api_key, options.api_key_file)
    if key:
        session.headers["X-API-Key"] = key
    body = _export_body("participants/standard", participants(50, seed=options.seed), "sync")
    started = time.perf_counter()

    def one(_: int) -> int:
        try:
            return session.post(f"{host}/api/v1/exports", data=unique(body, "warm-up"), headers={"Content-Type": JSON},
                                timeout=TIMEOUT).status_code
        except requests.RequestException as exc:
            log.warning("warm-up request failed: %s", exc)
            return 0

    statuses = Pool(4).map(one, range(8))
    log.info("warm-up: 8 small exports (%s) in %.1f s (not measured)", dict(Counter(statuses)),
             time.perf_counter() - started)


SPAWNED: set[str] = set()  # scenarios that had at least one user (on the master or local runner)
_ENVIRONMENT: list[Any] = []


@events.spawning_complete.add_listener
def _spawned(user_count: int, **kw: Any) -> None:
    if _ENVIRONMENT and not isinstance(_ENVIRONMENT[0].runner, WorkerRunner):
        runner = _ENVIRONMENT[0].runner
        by_name = {u.__name__: u for u in runner.user_classes}
        SPAWNED.update(by_name[name].scenario for name, count in runner.target_user_classes_count.items()
                       if count and name in by_name)


# -- users -------------------------------------------------------------------------------------
class SourceAddressAdapter(LocustHttpAdapter):
    """Sends from a given local address (Linux routes all of 127.0.0.0/8 to lo), so that
    Nginx's per-IP zones see another client. None: the default route."""

    def __init__(self, source_address: str | None, **kwargs: Any) -> None:
        self.source_address = source_address  # before super().__init__, which builds the pool
        super().__init__(pool_manager=None, **kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        if self.source_address:
            pool_kwargs["source_address"] = (self.source_address, 0)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


RECENT_JOBS: deque[str] = deque(maxlen=200)  # ids of this process's exports, for status_polling
_USER_NUMBERS: defaultdict[str, itertools.count] = defaultdict(itertools.count)
_CLIENT_NUMBERS = itertools.count()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class YbbUser(HttpUser):
    abstract = True
    scenario = ""

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.options = options
        # Deterministic per user: the n-th user of a scenario in this process always draws the same sizes.
        self.rng = random.Random(f"{options.seed}-{self.scenario}-{next(_USER_NUMBERS[self.scenario])}")
        self.client.trust_env = False  # REQUESTS_CA_BUNDLE and proxies would override what we pass
        self.client.verify = True if options.ca_cert in ("", "system") else options.ca_cert
        self.client.headers["User-Agent"] = f"ybb-loadtest/{self.scenario}"
        key = self.api_key()
        if key:
            self.client.headers["X-API-Key"] = key
        adapter = SourceAddressAdapter(self.source_address(), pool_maxsize=self.pool_size())
        self.client.mount("https://", adapter)
        self.client.mount("http://", adapter)

    def api_key(self) -> str:
        return _read_key(self.options.api_key, self.options.api_key_file)

    def source_address(self) -> str | None:
        """Against a loopback host, each honest user is a client machine of its own
        (127.0.1.N), as YBB's PHP servers are: Nginx's per-IP limits apply per user."""
        if not _is_loopback(urlsplit(self.host or "").hostname or ""):
            return None
        return f"127.0.1.{next(_CLIENT_NUMBERS) % 250 + 1}"

    def pool_size(self) -> int:
        return 10

    def n(self, what: str) -> str:
        return f"{self.scenario}: {what}"

    def event(self, request_type: str, name: str, started: float, length: int = 0, exception: Any = None) -> None:
        self.environment.events.request.fire(
            request_type=request_type, name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=length, exception=exception, context={},
        )

    def fail(self, what: str, message: str) -> None:
        """A failure that is not a single HTTP answer (e.g. a job that ended in `failed`)."""
        self.environment.events.request.fire(request_type="CHECK", name=self.n(what), response_time=0,
                                             response_length=0, exception=AssertionError(message), context={})

    def finish(self, job: dict, rows: int, event_name: str, started: float) -> None:
        """Poll an export to its end, check its rows, download it and record the whole duration."""
        job = self.poll(job)
        if job is None:
            return
        if job.get("rows") != rows:
            self.fail("rows", f"{job.get('rows')} rows in the file, {rows} sent")
            return
        size = self.download(job, rows)
        if size is not None:
            self.event("EXPORT", event_name, started, size)

    @staticmethod
    def path(url: str) -> str:
        """A link from the API, resolved against --host (a proxy may rewrite the host)."""
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def poll(self, job: dict) -> dict | None:
        """GET the job until it ends, waiting the Retry-After it is given."""
        url = self.path(job["links"]["self"])
        limited = 0
        while True:
            with self.client.get(url, name=self.n("GET /api/v1/exports/{id} (poll)"), timeout=TIMEOUT,
                                 catch_response=True) as r:
                if r.status_code == 429 and limited < 20:
                    # A failure all the same (honest clients must not meet 429s), but the export
                    # goes on: poll again after Retry-After, as a PHP client would, so that its
                    # end-to-end time is still measured.
                    limited += 1
                    r.failure(f"while polling: {answer(r)}")
                    gevent.sleep(float(r.headers.get("Retry-After") or 1))
                    continue
                if r.status_code != 200:
                    r.failure(answer(r))
                    return None
                job = r.json()
                if job["state"] in TERMINAL:
                    if job["state"] != "succeeded":
                        error = job.get("error") or {}
                        r.failure(f"the export ended {job['state']}: {error.get('code')}: {error.get('message')}")
                        return None
                    return job
                if "Retry-After" not in r.headers:
                    r.failure(f"a {job['state']} job answered without Retry-After")
                    return None
                delay = float(r.headers["Retry-After"])
            gevent.sleep(delay)

    def download(self, job: dict, rows: int) -> int | None:
        """Download the file (the signed download_url without the key when the API gives one,
        otherwise links.file with it) and check it. Returns its size."""
        signed = job.get("download_url")
        url = signed or job["links"]["file"]
        what = "GET download_url (signed)" if signed else "GET /api/v1/exports/{id}/file"
        # a request header set to None removes the session's header (requests' merge_setting)
        headers = {"X-API-Key": None} if signed else None
        with self.client.get(self.path(url), headers=headers, name=self.n(what), timeout=TIMEOUT,
                             catch_response=True) as r:
            if r.status_code != 200:
                r.failure(answer(r))
                return None
            problem = check_xlsx(r.content, r.headers.get("Content-Type", ""), job, rows, self.options)
            if problem:
                r.failure(problem)
                return None
            return len(r.content)


def answer(r: Any) -> str:
    """A response, for a failure message: the status and the error code, without the request id
    (so that locust groups the failures)."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return f"{r.status_code} {body['code']}: {str(body.get('message'))[:120]}"
    return f"{r.status_code} {r.text[:120]!r}"


def check_xlsx(content: bytes, content_type: str, job: dict, rows: int, options: Any) -> str | None:
    if not content.startswith(ZIP_SIGNATURE):
        return f"not an XLSX (zip) file: starts with {content[:8]!r}"
    if content_type.split(";")[0] != XLSX_TYPE:
        return f"Content-Type {content_type!r}"
    if job.get("file_size") is not None and len(content) != job["file_size"]:
        return f"{len(content)} bytes downloaded, the job says {job['file_size']}"
    low, high = xlsx_size_range(options, job.get("template") or "", rows)
    if not low <= len(content) <= high:
        return f"{len(content)} bytes for {rows} rows of {job.get('template')}: expected {low}-{high}"
    return None


def xlsx_size_range(options: Any, template: str, rows: int) -> tuple[int, int]:
    sizes = load_thresholds(options.thresholds)["xlsx_size"]
    per_row = sizes.get(template.replace("/", "_"), sizes["default"])
    return (int(sizes["base_min"] + per_row[0] * rows), int(sizes["base_max"] + per_row[1] * rows))


class PhpSmallSync(YbbUser):
    """What a PHP page does: 50-500 participants as XLSX, answered at once (201), then the file."""

    scenario = "php_small_sync"
    weight = 10
    wait_time = between(1, 3)

    @tag("php_small_sync")
    @task
    def export_small(self) -> None:
        rows, body = Bodies.php[self.rng.randrange(len(Bodies.php))]
        body = unique(body, self.scenario)
        started = time.perf_counter()
        with self.client.post("/api/v1/exports", data=body, headers={"Content-Type": JSON},
                              name=self.n("POST /api/v1/exports"), timeout=TIMEOUT, catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"expected 201 (a small export answered at once), got {answer(r)}")
                return
            job = r.json()
            if job.get("state") != "succeeded" or job.get("rows") != rows:
                r.failure(f"state {job.get('state')}, rows {job.get('rows')} (sent {rows})")
                return
        RECENT_JOBS.append(job["id"])
        size = self.download(job, rows)
        if size is not None:
            self.event("PAGE", "php_small_sync_page", started, size)


class LargeAsync50k(YbbUser):
    """50,000 participants, asynchronous: 202, poll with Retry-After, download. Alternates the
    39-column "complete" template and the "standard" one."""

    scenario = "large_async_50k"
    weight = 1
    wait_time = between(10, 20)

    def on_start(self) -> None:
        super().on_start()
        self.iteration = 0

    @tag("large_async_50k")
    @task
    def export_large(self) -> None:
        template = ("participants/complete", "participants/standard")[self.iteration % 2]
        self.iteration += 1
        rows, body = Bodies.large[template]
        body = unique(body, self.scenario)  # copies 60 MB: before the clock starts
        started = time.perf_counter()
        with self.client.post("/api/v1/exports", data=body, headers={"Content-Type": JSON},
                              name=self.n(f"POST /api/v1/exports ({template})"), timeout=TIMEOUT,
                              catch_response=True) as r:
            if r.status_code != 202 or "Location" not in r.headers:
                r.failure(f"expected 202 with a Location, got {answer(r)}")
                return
            job = r.json()
        RECENT_JOBS.append(job["id"])
        self.finish(job, rows, large_event_name(rows), started)


class BatchedUpload(YbbUser):
    """An upload job: 5 batches of 20,000 records (JSON arrays and NDJSON), commit, poll, download."""

    scenario = "batched_upload"
    weight = 1
    wait_time = between(20, 40)

    @tag("batched_upload")
    @task
    def upload(self) -> None:
        rows = Bodies.batch_rows_total
        started = time.perf_counter()
        create = {"template": "participants/standard", "format": "xlsx", "upload": True, "expected_rows": rows}
        with self.client.post("/api/v1/exports", json=create, name=self.n("POST /api/v1/exports (upload)"),
                              timeout=TIMEOUT, catch_response=True) as r:
            if r.status_code != 201 or r.json().get("state") != "awaiting_records":
                r.failure(f"expected 201 awaiting_records, got {answer(r)}")
                return
            job = r.json()
        RECENT_JOBS.append(job["id"])
        base = self.path(job["links"]["self"])
        records_url = self.path(job["links"].get("records", f"{base}/records"))
        commit_url = self.path(job["links"].get("commit", f"{base}/commit"))
        for content_type, body in Bodies.batches:
            with self.client.post(records_url, data=body, headers={"Content-Type": content_type},
                                  name=self.n(f"POST /api/v1/exports/{{id}}/records ({content_type.split('/')[1]})"),
                                  timeout=TIMEOUT, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"expected 200, got {answer(r)}")
                    return
        with self.client.post(commit_url, name=self.n("POST /api/v1/exports/{id}/commit"),
                              timeout=TIMEOUT, catch_response=True) as r:
            if r.status_code != 202:
                r.failure(f"expected 202, got {answer(r)}")
                return
            job = r.json()
        self.finish(job, rows, batched_event_name(rows), started)


class StatusPolling(YbbUser):
    """Light reads: the status of this process's recent exports (or of its own small one)."""

    scenario = "status_polling"
    weight = 4
    wait_time = between(1, 2)

    @tag("status_polling")
    @task
    def status(self) -> None:
        if not RECENT_JOBS:
            rows, body = Bodies.php[0]
            with self.client.post("/api/v1/exports", data=unique(body, self.scenario), headers={"Content-Type": JSON},
                                  name=self.n("POST /api/v1/exports (a job to poll)"), timeout=TIMEOUT,
                                  catch_response=True) as r:
                if r.status_code not in (201, 202):
                    r.failure(answer(r))
                    return
                RECENT_JOBS.append(r.json()["id"])
        job_id = self.rng.choice(list(RECENT_JOBS)[-50:])
        with self.client.get(f"/api/v1/exports/{job_id}", name=self.n("GET /api/v1/exports/{id}"),
                             timeout=TIMEOUT, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(answer(r))
            elif r.json().get("id") != job_id or r.json().get("state") not in STATES:
                r.failure(f"unexpected job: id {r.json().get('id')}, state {r.json().get('state')}")


class TemplateListing(YbbUser):
    """Light reads: the stock templates."""

    scenario = "template_listing"
    weight = 3
    wait_time = between(1, 3)

    @tag("template_listing")
    @task(2)
    def list_templates(self) -> None:
        with self.client.get("/api/v1/templates", name=self.n("GET /api/v1/templates"), timeout=TIMEOUT,
                             catch_response=True) as r:
            if r.status_code != 200:
                r.failure(answer(r))
                return
            names = {f"{t['type']}/{t['name']}": len(t["columns"]) for t in r.json()}
            if names.get("participants/complete") != 39 or "participants/standard" not in names:
                r.failure(f"participants/complete (39 columns) or participants/standard missing: {names}")

    @tag("template_listing")
    @task(1)
    def one_template(self) -> None:
        name = self.rng.choice(("participants/standard", "participants/complete"))
        with self.client.get(f"/api/v1/templates/{name}", name=self.n("GET /api/v1/templates/{type}/{name}"),
                             timeout=TIMEOUT, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(answer(r))
            elif f"{r.json().get('type')}/{r.json().get('name')}" != name:
                r.failure(f"asked for {name}, got {answer(r)}")


class Abuse(YbbUser):
    """One client bursting: it must meet 429s (JSON, with Retry-After), never a 5xx. It sends
    from another loopback address and with its own key, so that the honest users, who share
    the dev key, keep their per-IP and per-key budgets."""

    scenario = "abuse"
    fixed_count = 1
    weight = 1
    wait_time = between(4, 6)  # lets the buckets drain between bursts (burst 40 at 20 r/s: 2 s)

    def on_start(self) -> None:
        super().on_start()
        self.expected = {200, 429} if "X-API-Key" in self.client.headers else {401, 429}

    def pool_size(self) -> int:
        return self.options.abuse_concurrency

    def api_key(self) -> str:
        return _read_key(self.options.abuse_key, self.options.abuse_key_file)

    def source_address(self) -> str | None:
        source = self.options.abuse_source
        if source == "none":
            return None
        if source != "auto":
            return source
        return "127.0.0.2" if _is_loopback(urlsplit(self.host or "").hostname or "") else None

    @tag("abuse")
    @task
    def burst(self) -> None:
        statuses: Counter[int] = Counter()

        def one(_: int) -> None:
            with self.client.get("/api/v1/templates", name=self.n("GET /api/v1/templates (burst)"),
                                 timeout=TIMEOUT, catch_response=True) as r:
                statuses[r.status_code] += 1
                if r.status_code == 429:
                    body = r.json() if r.headers.get("Content-Type", "").startswith(JSON) else {}
                    if body.get("code") != "rate_limited" or not r.headers.get("Retry-After"):
                        r.failure(f"a 429 without the JSON error or Retry-After: {answer(r)}")
                    else:
                        r.success()  # the expected answer to a burst
                elif r.status_code in self.expected:
                    r.success()
                else:
                    r.failure(f"in a burst: {answer(r)}")

        Pool(self.options.abuse_concurrency).map(one, range(self.options.abuse_burst))
        if not statuses[429]:
            self.fail("burst met no 429", f"{self.options.abuse_burst} requests, statuses {dict(statuses)}")


# -- the gate ------------------------------------------------------------------------------------
_THRESHOLDS: dict[str, dict] = {}


def load_thresholds(path: str) -> dict:
    if path not in _THRESHOLDS:
        with open(path, "rb") as f:
            _THRESHOLDS[path] = tomllib.load(f)
    return _THRESHOLDS[path]


def evaluate(environment: Any) -> list[str]:
    """Every missed threshold, as a sentence; [] when the run passes."""
    options = environment.parsed_options
    config = load_thresholds(options.thresholds)
    gate = config["gate"]
    stats = environment.runner.stats
    problems = []
    if stats.total.num_failures > gate["max_failures"]:
        failures = sorted(stats.errors.values(), key=lambda e: -e.occurrences)
        detail = "; ".join(f"{e.occurrences}x {e.method} {e.name}: {str(e.error)[:160]}" for e in failures[:5])
        problems.append(f"{stats.total.num_failures} failures (max {gate['max_failures']}): {detail}")
    if COUNTERS["5xx"] > gate["max_5xx"]:
        which = ", ".join(f"{k[4:]}: {v}" for k, v in COUNTERS.items() if k.startswith("5xx "))
        problems.append(f"{COUNTERS['5xx']} responses >= 500 (max {gate['max_5xx']}): {which}")
    if COUNTERS["429 honest"]:
        problems.append(f"{COUNTERS['429 honest']} 429s met by honest users (counted in the failures)")
    exceptions = sum(e["count"] for e in environment.runner.exceptions.values())
    if exceptions > gate["max_exceptions"]:
        problems.append(f"{exceptions} exceptions in tasks (max {gate['max_exceptions']})")

    selected = _selected(environment)
    if gate.get("require_every_scenario", True):
        ran = {name.split(":")[0] for (name, _method), e in stats.entries.items() if e.num_requests}
        for scenario in sorted(selected - SPAWNED):
            log.warning("scenario %s got no user (too few users for the weights?)", scenario)
        for scenario in sorted(SPAWNED - ran):
            problems.append(f"scenario {scenario} made no request")
    if options.relaxed_thresholds:
        return problems
    for threshold in config.get("threshold", []):
        if threshold["scenario"] not in SPAWNED:
            continue
        name = threshold["name"]
        entry = stats.entries.get((name, threshold["type"]))
        count = entry.num_requests - entry.num_failures if entry else 0
        if count < threshold.get("min_count", 1):
            problems.append(f"{name}: {count} successful samples (min {threshold.get('min_count', 1)})")
            continue
        for key, label, value in (
            ("p95_ms", "p95", lambda e: e.get_response_time_percentile(0.95)),
            ("median_ms", "median", lambda e: e.median_response_time),
            ("max_ms", "max", lambda e: e.max_response_time),
        ):
            if key in threshold and value(entry) >= threshold[key]:
                problems.append(f"{name}: {label} {value(entry):.0f} ms, threshold < {threshold[key]} ms")
    return problems


def summary(environment: Any) -> str:
    stats = environment.runner.stats
    lines = [f"requests {stats.total.num_requests}, failures {stats.total.num_failures}, "
             f"5xx {COUNTERS['5xx']}, expected 429s (abuse) {COUNTERS['429 expected']}, "
             f"honest 429s {COUNTERS['429 honest']}"]
    for (name, method), e in sorted(stats.entries.items()):
        if e.num_requests:
            lines.append(f"  {method:6} {name:70} n={e.num_requests:<5} fail={e.num_failures:<3} "
                         f"p50={e.median_response_time:.0f} p95={e.get_response_time_percentile(0.95):.0f} "
                         f"max={e.max_response_time:.0f} ms")
    return "\n".join(lines)


@events.quitting.add_listener
def _gate(environment: Any, **kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    log.info("YBB load test summary:\n%s", summary(environment))
    problems = evaluate(environment)
    if problems:
        log.error("THRESHOLDS MISSED (%s):\n  %s", environment.parsed_options.thresholds, "\n  ".join(problems))
        environment.process_exit_code = 1
    else:
        mode = " (latency thresholds relaxed)" if environment.parsed_options.relaxed_thresholds else ""
        log.info("all thresholds met%s", mode)
        environment.process_exit_code = 0
