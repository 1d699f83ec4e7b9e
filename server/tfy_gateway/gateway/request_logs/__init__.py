"""Request logs: one record per data-plane request, written in batches to `<data-dir>/logs.sqlite3`,
or to the shared PostgreSQL database when the gateway has a `--database-url` (`log_backend`).

`LogWriter.submit(record)` never blocks the request; `query_logs` / `usage_summary` read them back
for `GET /api/svc/v1/llm-gateway/logs` and `.../usage/summary` (see `routes`).
"""

from tfy_gateway.gateway.request_logs.backend import LogBackend, LogsUnavailable, SqliteLogs
from tfy_gateway.gateway.request_logs.query import LogFilter, QueryError, parse_since, query_logs, usage_summary
from tfy_gateway.gateway.request_logs.record import LogRecord, row_to_dict
from tfy_gateway.gateway.request_logs.schema import LOGS_FILE, connect
from tfy_gateway.gateway.request_logs.writer import LogWriter, log_backend

__all__ = [
    "LOGS_FILE",
    "LogBackend",
    "LogFilter",
    "LogRecord",
    "LogWriter",
    "LogsUnavailable",
    "QueryError",
    "SqliteLogs",
    "connect",
    "log_backend",
    "parse_since",
    "query_logs",
    "row_to_dict",
    "usage_summary",
]
