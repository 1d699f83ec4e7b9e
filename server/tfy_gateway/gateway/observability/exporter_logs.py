"""The OTLP exporters log an error for every batch a collector refused or never took, which with a
collector down is one line a second, each saying the same; `export.SpanQueue` already reports lost
spans with their count. `serve` lets one of the exporters' own lines through per interval (they can
say why, e.g. a TLS failure) and drops the repeats."""

from __future__ import annotations

import logging
import time

EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.sdk.metrics._internal.export",
)


class OncePer(logging.Filter):
    """Lets one record through per `interval_s`."""

    def __init__(self, interval_s: float) -> None:
        super().__init__()
        self._interval_s = interval_s
        self._last = -interval_s

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < self._interval_s:
            return False
        self._last = now
        return True


def quiet_exporter_logs(interval_s: float = 30.0) -> None:
    """Install the filter on the exporters' loggers (once per process: `serve` calls it)."""
    for name in EXPORTER_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(existing, OncePer) for existing in target.filters):
            target.addFilter(OncePer(interval_s))
