"""Errors raised by the export engine."""
from __future__ import annotations


class EngineError(Exception):
    """A request the engine refuses. The API answers it as HTTP `status` (default 422) in its error shape,
    with `headers` (e.g. Retry-After)."""

    def __init__(self, code: str, message: str, errors: dict | list | None = None, status: int = 422,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors
        self.status = status
        self.headers = headers or {}

    def __reduce__(self):  # noqa: ANN204
        # Dask moves exceptions between processes; keep every attribute across pickling.
        return (self.__class__, (self.code, self.message, self.errors, self.status, self.headers))

    def __repr__(self) -> str:
        return f"EngineError({self.code!r}, {self.message!r})"


class TemplateError(Exception):
    """An invalid template file, found while loading templates at start-up."""
