"""The old YBB export API (/api/ybb/...) translated to the new engine and back.

Kept out of the views (resources/compat.py) so that they stay thin: this module turns an
old request body into a new export body, new jobs into the old response envelopes, and
decides who the caller is (an API key, or a keyless address listed in COMPAT_KEYLESS_IPS
during a migration window). Documented in docs/compat.md, which also says where the
answers differ from the old service's and why.

The old service passed every value through as text and never applied its `filters`. So an
old request is translated with `on_invalid: "coerce"` (a value that does not parse is
written as it came), text statuses become the label maps' keys, `d/m/Y` dates and
number_format() amounts are parsed, and of the filters only what maps onto a column is
applied (`filters_applied` says what was applied and what was ignored, and why).
"""
from __future__ import annotations

import ipaddress
import re
import resource
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from flask import current_app, request
from werkzeug.exceptions import HTTPException

from ybb_engine.errors import EngineError
from ybb_engine.service import Job, State, iso

from .auth import authenticate
from .errors import abort
from .keys import ApiKey
from .request_id import current_request_id

EXPORT_TYPES = ("participants", "payments", "ambassadors")
# The old API wrote an Excel file for these formats and CSV for any other ("pdf" too).
XLSX_FORMATS = frozenset({"excel", "xlsx", "xls"})
_OLD_EXTENSION = re.compile(r"\.(xlsx|xls|csv)$", re.IGNORECASE)
_MAX_FILTERS = 50
MIB = 1024 * 1024

# What the old service wrote for a field a record did not have.
MISSING = "N/A"
# Dates were written as YYYY-MM-DD, date-times too (the time dropped).
OLD_DATE_FORMAT = "yyyy-mm-dd"
# The old service's own filename checks (its utils/file_manager.py), with its messages.
_DANGEROUS_FILENAME = ("../", "..\\", "/etc/", "C:\\", "cmd.exe", "powershell")
_SHEET_NAME_FORBIDDEN = ("\\", "/", "?", "*", "[", "]", ":")
SHEET_NAME_MAX = 31

# The old `complete` participants template listed nationality_code and country_code both as
# "Country Code"; its rows were keyed by header, so its files had one "Country Code" column,
# where nationality_code's was, holding country_code. The old routes write the same columns.
COLLAPSED = {"participants/complete": ("nationality_code", "country_code")}

# Which columns the old filter keys meant: the date range, and `search` (name or email).
DATE_COLUMNS = ("payment_date", "created_at")
SEARCH_COLUMNS = ("full_name", "name", "participant_name", "email", "participant_email")
NO_FILTER = frozenset({"", "all"})

_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
_BOOLEAN_TEXTS = frozenset({"1", "0", "true", "false", "yes", "no", "y", "n", "t", "f", "on", "off"})
NUMERIC_TYPES = ("integer", "number", "currency")


@dataclass(frozen=True)
class Caller:
    """Who is calling a compat route: their key (a stand-in one when keyless) and what they may see."""

    key: ApiKey
    keyless: bool = False

    @property
    def tenant(self) -> str:
        return self.key.tenant

    @property
    def visible_tenant(self) -> str | None:
        return None if "admin" in self.key.scopes else self.key.tenant


# -- who is calling -------------------------------------------------------------------------

def keyless_networks(setting: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """COMPAT_KEYLESS_IPS: a comma-separated string (or a list) of IPs and CIDRs; empty = off."""
    if not setting:
        return []
    items: Iterable[str] = setting.split(",") if isinstance(setting, str) else setting
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item and item.strip()]


def keyless_allowed(address: str | None) -> bool:
    """Whether `address` is listed in COMPAT_KEYLESS_IPS (the old routes' keyless callers)."""
    networks = keyless_networks(current_app.config.get("COMPAT_KEYLESS_IPS", ""))
    if not networks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def identify(scope: str) -> Caller:
    """The caller of a compat route. A presented key is always checked (a wrong one is 401 even
    from a keyless address); without a key, only COMPAT_KEYLESS_IPS may call, as COMPAT_TENANT."""
    presents_key = bool(request.headers.get("X-API-Key") or request.headers.get("Authorization"))
    if presents_key or not keyless_allowed(request.remote_addr):
        return Caller(authenticate(scope))
    if scope == "admin":
        abort(403, message="This route needs an API key with the 'admin' scope; keyless callers lack it.",
              error_code="forbidden")
    tenant = current_app.config.get("COMPAT_TENANT", "legacy") or "legacy"
    # Keyless callers have no webhook secret, and the old API had no callbacks anyway.
    return Caller(ApiKey(id="compat-keyless", tenant=tenant, sha256="", scopes=("exports:write", "exports:read"),
                         webhook_secret=""), keyless=True)


# -- the old request's own checks -----------------------------------------------------------

def check_names(old: Mapping[str, Any]) -> None:
    """The old service's refusals of a file or sheet name, with its messages (400)."""
    if "filename" in old:
        name = old["filename"]
        if not name.strip():
            abort(400, message="Filename cannot be empty", error_code="invalid_filename")
        lowered = name.lower()
        for pattern in _DANGEROUS_FILENAME:
            if pattern.lower() in lowered:
                abort(400, message=f"Filename contains potentially dangerous pattern: {pattern}",
                      error_code="invalid_filename")
    for char in _SHEET_NAME_FORBIDDEN:
        if char in (old.get("sheet_name") or ""):
            abort(400, message=f"Sheet name cannot contain character: {char}", error_code="invalid_sheet_name")


def check_template(export_type: str, name: str) -> None:
    """The old API's message and 400 for an unknown template of a known export type."""
    names = template_names(export_type)
    if name not in names:
        abort(400, message=f"Template '{name}' not found for {export_type}",
              error_code="unknown_template", errors={"available": names})


def template_names(export_type: str) -> list[str]:
    return [t.name for t in _registry().all() if t.type == export_type]


def _registry() -> Any:
    return current_app.extensions["ybb_service"].templates


# -- values ---------------------------------------------------------------------------------

def _label_keys(column: Any) -> dict[str, str]:
    """Label or key text, case-folded -> key: "success" and "Success" are the payment status 2."""
    lookup = {str(key).casefold(): str(key) for key in column.value_map}
    lookup.update({label.casefold(): str(key) for key, label in column.value_map.items()})
    return lookup


def _dmy(text: str) -> str | None:
    """A d/m/Y date (as the old service parsed it) as YYYY-MM-DD; None if it is not one."""
    match = _DMY.fullmatch(text.strip())
    if not match:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _ungrouped(text: str) -> str | None:
    """ "1,500.00" (PHP's number_format) as "1500.00"; None if it is not such a number."""
    stripped = text.strip()
    return stripped.replace(",", "") if _GROUPED_NUMBER.fullmatch(stripped) else None


def prepare_records(records: list[dict[str, Any]], columns: Sequence[Any]) -> None:
    """Make old records what the engine reads as the old service did (in place): a field the
    record lacks becomes "N/A", d/m/Y dates and number_format() amounts are parsed, and a
    status or category given as its label or key text becomes the key of the column's value map.
    Anything else that doesn't fit a column is kept as text (the request says on_invalid: coerce)."""
    fields = [c.field for c in columns]
    dates = [c.field for c in columns if c.type in ("date", "datetime")]
    numbers = [c.field for c in columns if c.type in NUMERIC_TYPES]
    enums = [(c.field, _label_keys(c)) for c in columns if c.type == "enum" and c.value_map]
    for record in records:
        for name in fields:
            if name not in record:
                record[name] = MISSING
        for name in dates:
            value = record[name]
            if type(value) is str and "/" in value and (parsed := _dmy(value)):
                record[name] = parsed
        for name in numbers:
            value = record[name]
            if type(value) is str and "," in value and (plain := _ungrouped(value)):
                record[name] = plain
        for name, lookup in enums:
            value = record[name]
            if type(value) is str and (key := lookup.get(value.strip().casefold())) is not None:
                record[name] = key


class _Skip(Exception):
    """This filter value cannot be compared with the column: the filter is ignored, for this reason."""


def _filter_value(column: Any, value: Any) -> Any:
    """`value` as the engine compares it with `column`, or _Skip. The old service took any value."""
    if value is None or isinstance(value, (list, dict)):
        raise _Skip("not a text, number or boolean")
    kind = column.type
    if kind == "enum":
        if column.value_map and isinstance(value, str):
            return _label_keys(column).get(value.strip().casefold(), value)
        return value
    if kind == "string":
        return value
    if kind in NUMERIC_TYPES:
        if isinstance(value, bool):
            raise _Skip("not a number")
        if isinstance(value, str):
            value = _ungrouped(value) or value.strip()
            if not _NUMBER.fullmatch(value):
                raise _Skip("not a number")
        if kind == "integer" and not _integral(value):
            raise _Skip("not a whole number")
        return value
    if kind == "boolean":
        if isinstance(value, bool) or (isinstance(value, (int, float)) and value in (0, 1)):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOLEAN_TEXTS:
            return value
        raise _Skip("not a boolean")
    # date, datetime
    return _date_value(value)


def _integral(value: Any) -> bool:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return number.is_finite() and (number.is_zero() or number.adjusted() < 300) and number == number.to_integral_value()


def _date_value(value: Any) -> Any:
    if isinstance(value, bool):
        raise _Skip("not a date")
    if isinstance(value, (int, float)):
        return value  # a Unix timestamp
    if not isinstance(value, str):
        raise _Skip("not a date")
    text = value.strip()
    if parsed := _dmy(text):
        return parsed
    if _ISO_DATE.fullmatch(text):
        try:
            (date.fromisoformat if len(text) == 10 else datetime.fromisoformat)(text)
            return text
        except ValueError:
            pass
    raise _Skip("not a date (YYYY-MM-DD or d/m/Y)")


@dataclass
class FilterPlan:
    """The old `filters` object as the export applies it."""

    filters: list[dict[str, Any]] = field(default_factory=list)
    limit: int | None = None
    applied: dict[str, Any] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """`filters_applied` of the answer: what was applied (as sent) and what was ignored, and why."""
        return {"applied": self.applied, "ignored": self.ignored}


def translate_filters(old: Mapping[str, Any] | None, columns: Sequence[Any],
                      records: Sequence[Mapping[str, Any]]) -> FilterPlan:
    """The old flat filters in the new syntax, as far as they map onto the template's columns.

    A column's value is an equality (a list: any of them); "all", "" and null mean no filter;
    `date_from`/`date_to` (or `date_range: {start, end}`) bound the template's date column;
    `search` looks for a text in the name and email columns; `limit` keeps the first N records.
    Everything else is ignored, as the old service ignored all of it, and so is a filter on a
    field that no record has (the app already filtered its query; there is nothing to compare)."""
    plan = FilterPlan()
    if not old:
        return plan
    if len(old) > _MAX_FILTERS:
        abort(400, message=f"At most {_MAX_FILTERS} filters.", error_code="invalid_operation")
    by_field = {c.field: c for c in columns}
    has = _FieldPresence(records)
    bounds: dict[str, Any] = {}
    for key, value in old.items():
        try:
            if key == "limit":
                plan.limit = _limit(value)
            elif key in ("date_from", "date_to"):
                if _no_filter(value):
                    raise _Skip("empty: no filter")
                bounds[key] = value
                continue  # applied (or ignored) below, with its partner
            elif key == "date_range":
                if not isinstance(value, Mapping) or not any(not _no_filter(value.get(k)) for k in ("start", "end")):
                    raise _Skip("needs {start, end}")
                plan.filters += _date_filters(by_field, has, value.get("start"), value.get("end"))
            elif key == "search":
                plan.filters.append(_search_filter(by_field, value))
            elif _no_filter(value):
                raise _Skip("'all' or empty: no filter")
            elif key not in by_field:
                raise _Skip("not a column of the template")
            elif not has(key):
                raise _Skip("no record has this field")
            else:
                plan.filters.append(_column_filter(by_field[key], value, has))
            plan.applied[key] = value
        except _Skip as skip:
            plan.ignored[key] = str(skip)
    if bounds:
        try:
            plan.filters += _date_filters(by_field, has, bounds.get("date_from"), bounds.get("date_to"))
            plan.applied.update(bounds)
        except _Skip as skip:
            plan.ignored.update({key: str(skip) for key in bounds})
    return plan


class _FieldPresence:
    """Whether any record has a field, or a text in a field (asked once per filter; stops at the
    first record that has it)."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records = records

    def __call__(self, name: str) -> bool:
        return any(name in record for record in self.records)

    def text(self, name: str, text: str) -> bool:
        """Some record holds exactly `text` in `name` (the engine compares texts exactly)."""
        return any(record.get(name) == text for record in self.records)


def _no_filter(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in NO_FILTER) or value == []


def _limit(value: Any) -> int:
    if isinstance(value, bool):
        raise _Skip("not a positive whole number")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _Skip("not a positive whole number") from None
    if number < 1:
        raise _Skip("not a positive whole number")
    return number


def _column_filter(column: Any, value: Any, has: _FieldPresence) -> dict[str, Any]:
    if isinstance(value, list):
        items = [_filter_value(column, item) for item in value if not _no_filter(item)]
        items = [item for item in items if _in_domain(column, item, has)]
        if not items:
            raise _Skip("none of the values is a value of this column")
        return {"field": column.field, "op": "in", "value": items}
    item = _filter_value(column, value)
    if not _in_domain(column, item, has):
        labels = ", ".join(column.value_map.values())
        raise _Skip(f"not a value of this column ({labels}) nor of any record")
    return {"field": column.field, "op": "eq", "value": item}


def _in_domain(column: Any, item: Any, has: _FieldPresence) -> bool:
    """A text given to a status column is one of its keys or labels, or what some record holds
    there ("approved"); otherwise it is not meant for this column (the old docs' "completed"),
    and the old service's own database export ignored such status values too."""
    if column.type != "enum" or not column.value_map or not isinstance(item, str):
        return True
    return item in {str(k) for k in column.value_map} or has.text(column.field, item)


def _date_filters(by_field: Mapping[str, Any], has: _FieldPresence, start: Any, end: Any) -> list[dict[str, Any]]:
    name = next((f for f in DATE_COLUMNS if f in by_field), None)
    if name is None:
        raise _Skip("the template has no date column")
    if not has(name):
        raise _Skip(f"no record has the date field '{name}'")
    low = None if _no_filter(start) else _date_value(start)
    high = None if _no_filter(end) else _date_value(end)
    if low is None and high is None:
        raise _Skip("empty: no filter")
    return [{"field": name, "op": "between", "value": [low, high]}]


def _search_filter(by_field: Mapping[str, Any], value: Any) -> dict[str, Any]:
    if not isinstance(value, str) or not value.strip():
        raise _Skip("needs a non-empty text")
    names = [f for f in SEARCH_COLUMNS if f in by_field]
    if not names:
        raise _Skip("the template has no name or email column")
    return {"any": [{"field": name, "op": "contains", "value": value.strip()} for name in names]}


# -- requests -------------------------------------------------------------------------------

@dataclass
class Translation:
    """An old export request as the new engine runs it, and what the answer echoes of it."""

    body: dict[str, Any]
    plan: FilterPlan
    old_format: str
    received: int


def new_export_body(export_type: str, old: dict[str, Any]) -> Translation:
    """The new POST /api/v1/exports body for an old request. Synchronous, as the old API was."""
    check_names(old)
    check_template(export_type, old["template"])
    name = f"{export_type}/{old['template']}"
    template = _registry().get(export_type, old["template"])
    columns = list(template.columns)
    select = _collapsed(name, columns)
    if select:
        by_field = {c.field: c for c in columns}
        columns = [by_field[f] for f in select]

    records: list[dict[str, Any]] = old["data"]
    plan = translate_filters(old.get("filters"), template.columns, records)
    if plan.limit is not None:
        records = records[:plan.limit]
    prepare_records(records, columns)

    old_format = str(old["format"])
    fmt = "xlsx" if old_format.strip().lower() in XLSX_FORMATS else "csv"
    options: dict[str, Any] = {"on_invalid": "coerce", "date_format": OLD_DATE_FORMAT,
                               "datetime_format": OLD_DATE_FORMAT}
    if fmt == "xlsx":
        sheet = (old.get("sheet_name") or "").strip() or f"{export_type.title()} {datetime.now(UTC):%b %Y}"
        options["sheet_name"] = sheet[:SHEET_NAME_MAX]
    else:
        options["csv"] = {"line_terminator": "\n"}  # as pandas wrote the old CSVs
    body: dict[str, Any] = {"template": name, "format": fmt, "records": records, "mode": "sync",
                            "filename": _file_stem(export_type, old), "options": options}
    if plan.filters:
        body["filters"] = plan.filters
    if select:
        body["select"] = select
    return Translation(body, plan, old_format, len(old["data"]))


def _collapsed(name: str, columns: Sequence[Any]) -> list[str] | None:
    if name not in COLLAPSED:
        return None
    first, second = COLLAPSED[name]
    fields = [c.field for c in columns]
    return [second if f == first else f for f in fields if f != second]


def _file_stem(export_type: str, old: Mapping[str, Any]) -> str:
    """The file name without its extension (the engine adds the format's). The old default was
    {type}_{template}_{8 hex}_{dd-mm-YYYY}_{HHMMSS}."""
    if old.get("filename"):
        # Old clients name the file with its extension ("participants.xlsx"), sometimes the wrong one.
        return _OLD_EXTENSION.sub("", old["filename"].strip())
    now = datetime.now(UTC)
    return f"{export_type}_{old['template']}_{uuid.uuid4().hex[:8]}_{now:%d-%m-%Y}_{now:%H%M%S}"


# -- responses ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clock:
    """When a request started, and the process's peak memory then (for the old performance_metrics)."""

    started: float
    peak_kib: int

    @classmethod
    def start(cls) -> Clock:
        return cls(time.time(), _peak_kib())

    def seconds(self) -> float:
        return max(time.time() - self.started, 0.0)


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _template_name(job: Job) -> str | None:
    return (job.template or "").partition("/")[2] or None


def download_path(job_id: str) -> str:
    """Relative, as the old API answered it: old clients prefix it with their base URL."""
    return f"/api/ybb/export/{job_id}/download"


def _mb(size: int | None) -> float:
    return round((size or 0) / MIB, 2)


class Echoed(Protocol):
    """What an answer echoes of its request: a records Translation, or compat_db's."""

    plan: Any  # .report() -> filters_applied
    old_format: str
    received: int


def success_envelope(job: Job, view: dict[str, Any], translation: Echoed, clock: Clock) -> dict[str, Any]:
    """The old answer of a finished export (its single-file shape), with the new links added."""
    now = datetime.now(UTC).isoformat()
    seconds = clock.seconds()
    rows, size = job.rows or 0, job.size_bytes or 0
    received = translation.received
    filters = translation.plan.report()
    data = {
        "export_id": job.id,
        "file_name": job.filename,
        "file_size": job.size_bytes,
        "file_size_mb": _mb(size),
        "record_count": job.rows,
        "download_url": download_path(job.id),
        "file_url": download_path(job.id),
        "expires_at": iso(job.expires_at),
    }
    if view.get("download_url"):  # the signed link, usable without the API key
        data["signed_download_url"] = view["download_url"]
    peak_mb = round(_peak_kib() / 1024, 2)
    kb_per_record = round(size / rows / 1024, 2) if rows else 0
    ms = round(seconds * 1000, 2)
    common = {"export_type": job.export_type, "template": _template_name(job), "format": translation.old_format,
              "filters_applied": filters, "generated_at": now}
    memory_used_mb = round(max(_peak_kib() - clock.peak_kib, 0) / 1024, 2)
    records_per_second = round(received / seconds, 1) if seconds else 0
    # An earlier version of the old service put the metrics in `metadata` (its test scripts read them there).
    metrics = {"processing_time_ms": ms, "processing_time_seconds": round(seconds, 3),
               "records_per_second": records_per_second, "memory_used_mb": memory_used_mb,
               "peak_memory_mb": peak_mb, "memory_efficiency_kb_per_record": kb_per_record}
    return {
        "status": "success",
        "success": True,
        "message": "Export completed successfully",
        "export_strategy": "single_file",
        "data": data,
        "download_url": download_path(job.id),
        "metadata": {**common, "processing_time": round(seconds, 3), **metrics},
        "performance_metrics": {
            "total_processing_time_seconds": round(seconds, 2),
            "processing_time_ms": ms,
            "records_per_second": records_per_second,
            "memory_used_mb": memory_used_mb,
            "peak_memory_mb": peak_mb,
            "efficiency_metrics": {
                "kb_per_record": kb_per_record,
                "processing_ms_per_record": round(ms / received, 2) if received else 0,
                "memory_efficiency_kb_per_record": kb_per_record,
            },
        },
        "system_info": {**common, "compression_used": "none", "temp_files_cleanup_scheduled": False,
                        "export_expires_at": iso(job.expires_at)},
        "request_id": current_request_id(),
    }


def processing_envelope(job: Job) -> dict[str, Any]:
    """A synchronous export that outlived SYNC_TIMEOUT: the old API never answered this; poll status."""
    return {
        "status": "processing",
        "success": True,
        "message": "The export is still running; poll status_url until status is 'success'.",
        "data": {
            "export_id": job.id,
            "status_url": f"/api/ybb/export/{job.id}/status",
            "download_url": download_path(job.id),
            "record_count": job.rows_total,
            "expires_at": iso(job.expires_at),
        },
        "request_id": current_request_id(),
    }


def _old_status(job: Job) -> str:
    if job.state is State.SUCCEEDED:
        return "success"
    if job.state in (State.FAILED, State.CANCELLED):
        return "error"
    return "processing"


def status_envelope(job: Job, view: dict[str, Any]) -> dict[str, Any]:
    """The old status answer (flat), with the new job's state and progress added, and the same
    under `data` (the shape some old guides read: data.status, data.progress, data.filename)."""
    if job.state is State.EXPIRED:
        abort(404, message="Export has expired", error_code="expired")
    succeeded = job.state is State.SUCCEEDED
    status = _old_status(job)
    finished = job.finished_at if job.finished_at is not None else (time.time() if not job.ended else None)
    seconds = max(finished - job.created_at, 0.0) if finished is not None else None
    record_count = job.rows if succeeded else job.rows_total
    message = {"success": "Export completed successfully", "processing": "Export in progress",
               "error": (view.get("error") or {}).get("message") or f"The export is {job.state.value}"}[status]
    body: dict[str, Any] = {
        "status": status,
        "success": status != "error",
        "message": message,
        "export_id": job.id,
        "export_type": job.export_type,
        "template": _template_name(job),
        "record_count": record_count,
        "created_at": iso(job.created_at),
        "expires_at": iso(job.expires_at),
        "file_size_bytes": job.size_bytes,
        "file_size_mb": _mb(job.size_bytes) if job.size_bytes is not None else None,
        "processing_time_ms": round(seconds * 1000, 2) if seconds is not None else None,
        "processing_time_seconds": round(seconds, 3) if seconds is not None else None,
        "records_per_second": round(job.rows_total / seconds, 2) if seconds else None,
        "export_status": job.state.value,
        "progress": view["progress"],
        "file_name": job.filename,
        "file_size": job.size_bytes,
        "download_url": download_path(job.id) if succeeded else None,
    }
    if view.get("error"):
        body["error"] = view["error"]["message"]
    body["data"] = {
        "export_id": job.id, "status": status, "progress": view["progress"], "message": message,
        "record_count": record_count, "total_records": record_count, "file_size": job.size_bytes,
        "file_name": job.filename, "filename": job.filename, "file_count": 1 if succeeded else 0,
        "export_type": job.export_type, "template": _template_name(job), "created_at": iso(job.created_at),
        "completed_at": iso(job.finished_at) if succeeded else None, "download_url": body["download_url"],
    }
    body["request_id"] = current_request_id()
    return body


def _template_entry(template: Any) -> dict[str, Any]:
    return {
        "name": template.name,
        "description": template.title,
        "fields": [c.field for c in template.columns],
        "headers": [c.header for c in template.columns],
        # The old service said false for every template (none of its templates set it).
        "includes_sensitive_data": False,
    }


def templates_envelope() -> dict[str, Any]:
    """The old template listing: {type: {name: {name, description, fields, headers, ...}}}."""
    data: dict[str, dict[str, Any]] = {}
    for template in _registry().all():
        data.setdefault(template.type, {})[template.name] = _template_entry(template)
    return {"status": "success", "data": data, "request_id": current_request_id()}


def type_templates_envelope(export_type: str) -> dict[str, Any]:
    """The old listing of one type: {export_type, data: {name: {...}}}; 404 for another type."""
    if export_type not in EXPORT_TYPES:
        abort(404, message=f"Export type '{export_type}' not found", error_code="not_found")
    data = {t.name: _template_entry(t) for t in _registry().all() if t.type == export_type}
    return {"status": "success", "export_type": export_type, "data": data, "request_id": current_request_id()}


# The old status-mappings keys and the template columns whose value maps they are today.
MAPPING_SOURCES = {
    "form_status": ("participants", "standard", "form_status"),
    "payment_status": ("participants", "standard", "payment_status"),
    "payment_method": ("payments", "standard", "payment_method"),
    "boolean_status": ("participants", "complete", "is_active"),
    "category": ("participants", "standard", "category"),
}


def status_mappings_envelope() -> dict[str, Any]:
    """The label maps, in the old shape: {form_status: {"0": "Not Started", ...}, ...}."""
    data: dict[str, dict[str, str]] = {}
    for name, (type_, template, field_name) in MAPPING_SOURCES.items():
        column = next(c for c in _registry().get(type_, template).columns if c.field == field_name)
        value_map = dict(column.value_map or {})
        if column.type == "boolean":  # the old map was keyed 0/1
            value_map = {"0": value_map["false"], "1": value_map["true"]}
        data[name] = value_map
    return {"status": "success", "data": data, "request_id": current_request_id()}


def system_config_envelope() -> dict[str, Any]:
    """The limits, in the old shape ({limits, chunk_sizes, performance}) with today's values."""
    config = current_app.config
    partition = config["PARTITION_ROWS"]
    chunk_sizes: dict[str, dict[str, int]] = {}
    for template in _registry().all():
        chunk_sizes.setdefault(template.type, {})[template.name] = partition
    return {
        "status": "success",
        "data": {
            "limits": {
                "max_records_per_request": config["MAX_RECORDS_PER_REQUEST"],
                "max_records_single_file": config["MAX_RECORDS_PER_REQUEST"],
                "max_records_immediate_processing": config["INLINE_MAX_ROWS"],
                "max_records_synchronous": config["SYNC_MAX_ROWS"],
                "max_file_size_mb": round(config["MAX_CONTENT_LENGTH"] / MIB, 2),
                "max_processing_time_minutes": round(config["JOB_TIME_LIMIT"] / 60, 2) or None,
                "max_columns": config["MAX_COLUMNS"],
                "max_filters": config["MAX_FILTERS"],
                "file_retention_days": round(config["RETENTION_HOURS"] / 24, 2),
                "file_retention_hours": config["RETENTION_HOURS"],
                "max_rows_per_sheet": 1_048_575,
            },
            "chunk_sizes": chunk_sizes,
            "performance": {
                "chunked_threshold": partition,
                "timeout_seconds": config["SYNC_TIMEOUT"],
                "inline_max_rows": config["INLINE_MAX_ROWS"],
            },
        },
        "request_id": current_request_id(),
    }


def cleanup_envelope(result: Mapping[str, int], cleanup_type: str) -> dict[str, Any]:
    """The old cleanup answer for one sweep (expired files deleted, lost jobs failed)."""
    count = int(result.get("expired", 0))
    message = f"Cleaned up {count} expired exports"
    if cleanup_type == "all":
        message += " (type 'all' is not supported: exports are kept until they expire)"
    return {"status": "success", "success": True, "message": message, "cleaned_count": count,
            "files_removed": count, "expired": count, "lost": int(result.get("lost", 0)),
            "request_id": current_request_id()}


def storage_envelope(jobs: Iterable[Job]) -> dict[str, Any]:
    """Disk usage of the caller's exports (every export for an admin), in the old shape under
    `data` and, as some old guides read it, at the top level too."""
    exports = files = size = 0
    oldest: float | None = None
    newest: float | None = None
    for job in jobs:
        if job.state is State.EXPIRED:
            continue
        exports += 1
        oldest = job.created_at if oldest is None else min(oldest, job.created_at)
        newest = job.created_at if newest is None else max(newest, job.created_at)
        if job.state is State.SUCCEEDED:
            files += 1
            size += job.size_bytes or 0
    disk = shutil.disk_usage(current_app.config["DATA_DIR"])
    info = {"total_exports": exports, "total_files": files, "total_size_bytes": size, "total_size": size,
            "total_size_mb": _mb(size), "max_concurrent_exports": None,
            "oldest_export": iso(oldest), "newest_export": iso(newest),
            "available_space": disk.free, "available_space_mb": _mb(disk.free),
            "retention_hours": current_app.config["RETENTION_HOURS"]}
    return {"status": "success", "data": info, **info, "request_id": current_request_id()}


def _first_messages(errors: Any, prefix: str = "") -> list[str]:
    """'data: No data provided for export' from marshmallow's nested {"json": {...}} errors."""
    if isinstance(errors, dict):
        out: list[str] = []
        for key, value in errors.items():
            name = "" if key in {"json", "_schema"} else f"{prefix}{key}"
            out += _first_messages(value, f"{name}." if name else "")
        return out
    if isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        return [f"{prefix.rstrip('.')}: {errors[0]}" if prefix else errors[0]]
    return []


def error_envelope(status: int, message: str, code: str, errors: Any = None) -> tuple[dict[str, Any], int]:
    """The old error shape, {status: "error", message, request_id}, plus the new `code` and `errors`.
    The old API answered 400 for every invalid request: validation errors (422) become 400."""
    if code == "validation_error":
        details = _first_messages(errors)
        message = "Invalid request: " + "; ".join(details[:5]) if details else message
    if status == 422:
        status = 400
    body = {"status": "error", "success": False, "message": message, "code": code,
            "request_id": current_request_id()}
    if errors:
        body["errors"] = errors
    return body, status


def http_error_envelope(error: Any) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Any HTTPException raised under /api/ybb (abort(), webargs' 422, a 500) in the old shape."""
    data = getattr(error, "data", None) or {}
    status = error.code or 500
    errors = data.get("errors", data.get("messages"))
    if status == 500:
        code, message = "internal_error", "Internal error. Quote the request_id when reporting it."
    elif status == 400 and errors == {"json": ["Invalid JSON body."]}:
        code, message = "invalid_json", "The request body is not valid JSON."
    elif status == 422 and "message" not in data:
        code, message = "validation_error", "The request did not pass validation."
    else:
        code = data.get("error_code") or (error.name or "error").lower().replace(" ", "_")
        message = data.get("message") or error.description or error.name
    body, status = error_envelope(status, message, code, errors)
    return body, status, dict(data.get("headers") or {})


def answer_errors_the_old_way(blueprint: Any) -> None:
    """Every error under the blueprint (abort(), validation, EngineError, a 500) in the old shape."""
    @blueprint.errorhandler(HTTPException)
    def old_http_error(error: HTTPException) -> Any:
        return http_error_envelope(error)

    @blueprint.errorhandler(EngineError)
    def old_engine_error(error: EngineError) -> Any:
        body, status = error_envelope(error.status, error.message, error.code, error.errors)
        return body, status, error.headers


def keyless_request() -> bool:
    """The current request is to an old route, from a COMPAT_KEYLESS_IPS address."""
    return request.path.startswith("/api/ybb/") and keyless_allowed(request.remote_addr)
