"""Read the service's JSON logs over SSH, without the monitoring page.

    python -m ybb_api.logs summary --since 1h           # slow requests, error patterns, endpoint usage
    python -m ybb_api.logs search --request-id ID       # matching lines, newest first
    python -m ybb_api.logs story REQUEST_ID             # a request, its job and the workers' lines

The files are LOG_DIR/ybb-*.jsonl (and their rotations); --log-dir overrides LOG_DIR.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import orjson

from .observability.logsearch import LogQuery, parse_window, search, story
from .observability.summary import summarize


def _print_table(out: TextIO, title: str, headers: Sequence[str], rows: list[Sequence[Any]]) -> None:
    out.write(f"\n{title}\n")
    if not rows:
        out.write("  (none)\n")
        return
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        out.write("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip() + "\n")


def print_summary(out: TextIO, data: dict[str, Any]) -> None:
    out.write(f"{data['requests']} requests from {data['since']} to {data['until']}\n")
    out.write("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(data["jobs"].items())) or "none") + "\n")
    _print_table(out, "Slowest requests", ("ms", "status", "method", "path", "request_id", "tenant"),
                 [(r["duration_ms"], r["status"], r["method"], r["path"], r["request_id"], r["tenant"])
                  for r in data["slow_requests"]])
    _print_table(out, "Error patterns", ("count", "pattern", "last seen", "request_id"),
                 [(p["count"], p["pattern"], p["last_seen"], p["request_id"]) for p in data["error_patterns"]])
    _print_table(out, "Endpoint usage", ("count", "5xx", "p50 ms", "p95 ms", "endpoint"),
                 [(u["count"], u["errors"], u["p50_ms"], u["p95_ms"], f"{u['method']} {u['route']}")
                  for u in data["endpoint_usage"]])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ybb_api.logs", description=__doc__.splitlines()[0])
    parser.add_argument("--log-dir", default=os.environ.get("LOG_DIR"), help="default: $LOG_DIR")
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="slow requests, error patterns, endpoint usage")
    summary.add_argument("--since", default="1h", help="how far back: 30m, 1h, 2d (default 1h)")
    summary.add_argument("--json", action="store_true", help="print JSON instead of tables")
    found = commands.add_parser("search", help="matching lines, newest first")
    for name in ("text", "level", "request-id", "tenant", "job-id"):
        found.add_argument(f"--{name}")
    found.add_argument("--since", default="24h")
    found.add_argument("--limit", type=int, default=100)
    told = commands.add_parser("story", help="one request with its job and worker lines")
    told.add_argument("request_id")
    told.add_argument("--since", default="24h")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.log_dir:
        parser.error("no log directory: pass --log-dir or set LOG_DIR")
    try:
        window = parse_window(args.since)
    except ValueError as exc:
        parser.error(str(exc))
    since = datetime.now(UTC) - timedelta(seconds=window)
    if args.command == "summary":
        data = summarize(args.log_dir, window)
        if args.json:
            out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            print_summary(out, data)
        return 0
    if args.command == "search":
        query = LogQuery(text=args.text, level=args.level, request_id=args.request_id, tenant=args.tenant,
                         job_id=args.job_id, since=since)
        lines = search(args.log_dir, query, 0, args.limit)["items"]
    else:
        lines = story(args.log_dir, args.request_id, since)["lines"]
    for line in lines:  # JSON lines either way: made for grep and jq
        out.write(orjson.dumps(line).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
