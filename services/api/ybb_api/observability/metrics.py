"""Prometheus metrics. Request metrics are counted in each Gunicorn worker; with
PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it) every worker writes them to that
directory and a scrape sums them. Job metrics are read from the job store at scrape time,
so they are the same whichever worker answers."""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from ybb_engine.service import ExportService, HistogramRow, JobStatistics, State

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
EXPORT_SECONDS_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
ROWS_PER_SECOND_BUCKETS = (100, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000)

REQUESTS = Counter("ybb_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("ybb_http_request_duration_seconds", "Time to answer, until the last byte was sent",
                    ["method", "route", "status"], buckets=LATENCY_BUCKETS)
RESPONSE_BYTES = Counter("ybb_http_response_bytes_total", "Response body bytes sent by the API", ["route"])


def observe_request(method: str, route: str, status: int, seconds: float, sent: int) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route, str(status)).observe(seconds)
    RESPONSE_BYTES.labels(route).inc(sent)


def _histogram(name: str, doc: str, bounds: Sequence[float], rows: Sequence[HistogramRow]) -> Metric:
    """A Prometheus histogram by format, from the store's cumulative counts."""
    family = HistogramMetricFamily(name, doc, labels=["format"])
    for row in rows:
        pairs = [(str(float(b)), c) for b, c in zip(bounds, row.cumulative, strict=False)] + [("+Inf", row.count)]
        family.add_metric([row.format], pairs, row.total)
    return family


class JobStoreCollector:
    """Jobs by state and template, queue depth, export duration and speed, bytes written, disk."""

    def __init__(self, service: ExportService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        yield from self._job_metrics(self.service.statistics(EXPORT_SECONDS_BUCKETS, ROWS_PER_SECOND_BUCKETS))
        yield from self._disk_metrics()

    def _job_metrics(self, stats: JobStatistics) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("ybb_jobs", "Jobs in the store, by state and template", labels=["state", "template"])
        queued = 0
        for state, template, count in stats.by_state_and_template:
            jobs.add_metric([state, template], count)
            queued += count if state == State.QUEUED else 0
        yield jobs
        yield GaugeMetricFamily("ybb_queue_depth", "Jobs queued and not started yet", value=queued)
        yield _histogram("ybb_export_duration_seconds", "From the first task starting to the file written",
                         EXPORT_SECONDS_BUCKETS, stats.durations)
        yield _histogram("ybb_export_rows_per_second", "Rows written per second of export time",
                         ROWS_PER_SECOND_BUCKETS, stats.speeds)
        yield CounterMetricFamily("ybb_export_bytes_written", "Bytes of export files written",
                                  value=stats.bytes_written)
        yield CounterMetricFamily("ybb_export_rows_written", "Rows of export files written", value=stats.rows_written)

    def _disk_metrics(self) -> Iterator[Metric]:
        try:
            stats = os.statvfs(self.service.layout.root)
        except OSError:
            return
        yield GaugeMetricFamily("ybb_data_dir_free_bytes", "Free space for DATA_DIR",
                                value=stats.f_bavail * stats.f_frsize)
        yield GaugeMetricFamily("ybb_data_dir_size_bytes", "Size of DATA_DIR's file system",
                                value=stats.f_blocks * stats.f_frsize)


class _Collectors:
    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def _process_collector() -> Any:
    """Every Gunicorn worker's request metrics (multiprocess mode), or this process's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and Path(directory).is_dir():
        return MultiProcessCollector(None, directory)
    return REGISTRY


def render_metrics(service: ExportService) -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type."""
    registry = _Collectors(_process_collector(), JobStoreCollector(service))
    return generate_latest(registry), CONTENT_TYPE_LATEST
