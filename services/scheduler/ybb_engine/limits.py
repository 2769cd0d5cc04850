"""The bounds on what one request can grow: records, columns, field names, filters.

`EngineSettings.limits()` builds them from the environment (docs/configuration.md);
`ExportService` checks the record count and hands them to `spec.build_spec`, which checks the
rest while it validates the request. Every refusal is an `EngineError` (docs/errors.md):
`too_many_records` (413) for the records, `limit_exceeded` (422) for everything else, with
`errors` naming where (`{where: message, "limit": n}`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import EngineError

# Excel's limits: rows of a sheet after the header, columns of a sheet.
EXCEL_MAX_ROWS = 1_048_575
EXCEL_MAX_COLUMNS = 16_384
# How much of a refused name an error message repeats.
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class Limits:
    records: int = EXCEL_MAX_ROWS           # MAX_RECORDS_PER_REQUEST: records of a create request or a batch
    columns: int = EXCEL_MAX_COLUMNS        # MAX_COLUMNS: columns given, inferred, selected, ordered, renamed
    field_name_chars: int = 255             # MAX_FIELD_NAME_CHARS: a field name anywhere in a request
    filters: int = 100                      # MAX_FILTERS: conditions of `filters`, counted across groups
    filter_values: int = 10_000             # MAX_FILTER_VALUES: values of an `in` / `not_in` list

    def __post_init__(self) -> None:
        # An XLSX sheet cannot hold more columns than Excel's, whatever MAX_COLUMNS says.
        object.__setattr__(self, "columns", min(self.columns, EXCEL_MAX_COLUMNS))

    def check_records(self, count: int) -> None:
        """The records of one request (a create request's `records`, an upload batch)."""
        if count > self.records:
            raise EngineError(
                "too_many_records",
                f"{count} records in one request; at most {self.records} are taken (send an upload job's "
                "records in several batches).",
                errors={"records": f"at most {self.records} records per request", "limit": self.records},
                status=413)

    def check_columns(self, count: int, where: str) -> None:
        if count > self.columns:
            raise limit_exceeded(where, f"at most {self.columns} columns", self.columns)

    def check_field_name(self, name: Any, where: str) -> None:
        """A field name (a record key, a column's field, a filter/sort/dedupe/select... field)."""
        if isinstance(name, str) and len(name) > self.field_name_chars:
            raise limit_exceeded(where, f"a field name has at most {self.field_name_chars} characters "
                                 f"(this one has {len(name)}, starting {name[:_SHOWN_CHARS]!r})",
                                 self.field_name_chars)


DEFAULT_LIMITS = Limits()


def limit_exceeded(where: str, message: str, limit: int) -> EngineError:
    return EngineError("limit_exceeded", f"{where}: {message}.", errors={where: message, "limit": limit})
