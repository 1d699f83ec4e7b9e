"""Settings of a local gateway process: one object for the control plane, data plane and routing.

Precedence: command-line flags > `TFY_GATEWAY_<NAME>` environment variables > the standard `OTEL_*`
variables for the `otel_*` fields > the defaults below.
`load_settings` applies it once (in `tfy-gateway serve`, or a test); the app itself never reads the
environment, so two apps in one process never share configuration. Every field is a tunable that
`serve --help` lists and `references/local-gateway.md` documents (a test keeps them in step).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.config import JsonDict

from tfy_gateway.gateway.errors import ConfigError
from tfy_gateway.gateway.observability.environment import standard_values
from tfy_gateway.gateway.routing.settings import RoutingSettings
from tfy_gateway.gateway.secrets_masking import mask_url

ENV_PREFIX = "TFY_GATEWAY_"
ADMIN_TOKEN_ENV = "TFY_GATEWAY_ADMIN_TOKEN"
ADMIN_TOKEN_FILE = "admin-token"
DATABASE_FILE = "gateway.sqlite3"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_DATA_DIR = ".tfy-gateway"
MB = 1024 * 1024

# Fields with this marker are read from the environment only: a secret is never a command argument.
ENV_ONLY: JsonDict = {"env_only": True}


class GatewaySettings(BaseModel):
    """Everything `create_app` needs; immutable so every component can share it."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    # --- server and control plane ---------------------------------------------------------------
    host: str = Field(DEFAULT_HOST, description="address to bind (loopback by default)")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="TCP port")
    data_dir: Path = Field(Path(DEFAULT_DATA_DIR), description="where the database, request logs and admin-token live")
    tenant_name: str = Field("local", min_length=1, description="tenant name shown in fqns")
    admin_email: str = Field("admin@local", min_length=3, description="email of the admin user created on first start")
    admin_token: str | None = Field(
        None,
        repr=False,
        pattern=r"^tfy_\S+$",
        description="use this admin token instead of generating one (must start with tfy_; never written to disk)",
        json_schema_extra=ENV_ONLY,
    )
    watch_interval_s: float = Field(
        1.0,
        ge=0,
        description="how often to poll for database writes by other processes (the offline CLI, other replicas); "
        "0 = never",
    )
    database_url: str | None = Field(
        None,
        repr=False,
        pattern=r"^postgres(ql)?://\S*$",
        description="PostgreSQL for manifests, users, tokens and request logs, shared by several replicas "
        "(postgresql://user@host:5432/db; put the password in PGPASSWORD or ~/.pgpass, not here); "
        "none = SQLite files in the data dir",
    )
    offline_upstream: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="every provider call goes to this fake provider instead of the account's own address, and a "
        "secret without a value gets a placeholder (`serve --offline` sets it to its bundled fake provider); "
        "none = each account's own address",
    )
    max_body_bytes: int = Field(
        10 * MB, gt=0, description="largest request body, control plane and data plane alike (413 above it)"
    )
    # --- data plane -----------------------------------------------------------------------------
    upstream_timeout_s: float = Field(
        600.0,
        gt=0,
        description="each upstream attempt must connect, give its first token (a plain answer: all of it) and "
        "never fall silent for longer; a request's x-tfy-request-timeout replaces it (504 on expiry)",
    )
    connection_limit: int = Field(0, ge=0, description="upstream connection pool size; 0 = unlimited")
    upstream_client: Literal["http1", "aiohttp"] = Field(
        "http1",
        description="HTTP client of upstream calls: http1 = the gateway's lean keep-alive HTTP/1.1 client (a "
        "quarter of aiohttp's CPU a call), aiohttp = aiohttp's client for every call (multipart uploads and a "
        "connection_limit above 0 use aiohttp either way)",
    )
    max_response_bytes: int = Field(
        64 * MB, gt=0, description="largest non-streamed upstream answer read into memory (502 above it)"
    )
    guardrail_timeout_ms: int = Field(
        5000,
        ge=1,
        description="how long a guardrail service may take before its check counts as an error, unless "
        "gateway-global-settings sets guardrail_settings.timeout_ms (the platform's GUARDRAIL_TIMEOUT_MS)",
    )
    log_bodies: bool = Field(
        False, description="log prompt and completion bodies of every request (else only with x-tfy-logging-config)"
    )
    log_retention_days: float = Field(30.0, ge=0, description="request logs older than this are deleted; 0 = keep all")
    log_batch_size: int = Field(4096, ge=1, description="request-log records written per transaction, at most")
    log_flush_interval_s: float = Field(0.25, gt=0, description="longest wait before queued request logs are written")
    # --- batches --------------------------------------------------------------------------------
    batch_concurrency: int = Field(
        4, ge=1, le=256, description="batch request lines this process runs at once, across every batch"
    )
    batch_lease_s: float = Field(
        30.0,
        gt=0,
        description="a batch is held by the process running it for this long, renewed while it runs; another "
        "replica (or a restarted process) takes over a batch whose holder stopped renewing",
    )
    batch_poll_s: float = Field(
        2.0, gt=0, description="how often the batch runner looks for batches to run (new ones start at once)"
    )
    batch_retry_max_wait_s: float = Field(
        30.0,
        gt=0,
        description="a batch line refused with a 429 that says when to retry waits that long, at most this "
        "much between tries, and tries again within the batch's completion window",
    )
    # --- routing --------------------------------------------------------------------------------
    latency_window_s: float = Field(1200.0, gt=0, description="latency-based routing: age of the samples it averages")
    latency_window_calls: int = Field(100, ge=1, description="latency-based routing: last N successful calls averaged")
    latency_min_samples: int = Field(3, ge=1, description="latency-based routing: samples before a target is ranked")
    latency_fast_ratio: float = Field(
        1.2, ge=1, description="latency-based routing: targets within this factor of the fastest share the traffic"
    )
    failure_threshold: int = Field(3, ge=1, description="failures (408, 429, 5xx) in the window that bench a target")
    failure_window_s: float = Field(60.0, gt=0, description="window in which failures are counted")
    failure_cooldown_s: float = Field(60.0, ge=0, description="how long a failing target stays out of selection")
    sla_cooldown_s: float = Field(60.0, ge=0, description="how long a target over its SLA cutoff stays out of its rule")
    max_total_attempts: int = Field(10, ge=1, description="upstream calls per request, retries and fallbacks included")
    retry_after_cap_s: float = Field(5.0, ge=0, description="longest upstream retry-after waited before a retry")
    model_cache_size: int = Field(10_000, ge=1, description="requested model names whose matching rules are memoised")
    # --- budget alerts --------------------------------------------------------------------------
    alert_retry_base_s: float = Field(
        5.0, gt=0, description="budget alerts: wait before the first retry of a failed delivery (doubles each time)"
    )
    alert_retry_max_s: float = Field(600.0, gt=0, description="budget alerts: longest wait between delivery attempts")
    alert_max_attempts: int = Field(
        10, ge=1, description="budget alerts: attempts per notification target before it is marked failed"
    )
    alert_timeout_s: float = Field(
        10.0,
        gt=0,
        description=(
            "budget alerts: how long a delivery waits for its answer before it counts as unanswered "
            "(a late answer before the retry still counts)"
        ),
    )
    alert_pagerduty_url: str = Field(
        "https://events.pagerduty.com/v2/enqueue",
        pattern=r"^https?://\S+$",
        description="budget alerts: PagerDuty Events API v2 URL (a channel's integration_url wins)",
    )
    alert_slack_api_url: str = Field(
        "https://slack.com/api/chat.postMessage",
        pattern=r"^https?://\S+$",
        description="budget alerts: Slack chat.postMessage URL for slack-bot targets (a channel's api_url wins)",
    )

    # --- OpenTelemetry export (an applied gateway-otel-config replaces all of it) ----------------
    otel_endpoint: str | None = Field(
        None,
        pattern=r"^\S+$",
        description="OTLP collector for traces and metrics: http://host:4318 (OTLP/HTTP appends /v1/traces, "
        "/v1/metrics) or http://host:4317 with otel_protocol grpc; also OTEL_EXPORTER_OTLP_ENDPOINT; unset = none",
    )
    otel_traces_endpoint: str | None = Field(
        None, pattern=r"^\S+$", description="full URL for traces only (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"
    )
    otel_metrics_endpoint: str | None = Field(
        None, pattern=r"^\S+$", description="full URL for metrics only (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)"
    )
    otel_protocol: Literal["http/protobuf", "http/json", "grpc"] = Field(
        "http/protobuf", description="OTLP protocol (OTEL_EXPORTER_OTLP_PROTOCOL); grpc needs tfy-gateway[otel-grpc]"
    )
    otel_headers: str | None = Field(
        None,
        repr=False,
        description="headers sent with every export, key=value,key2=value2 (OTEL_EXPORTER_OTLP_HEADERS)",
        json_schema_extra=ENV_ONLY,
    )
    otel_service_name: str = Field(
        "tfy-llm-gateway", min_length=1, description="service.name of exported spans and metrics (OTEL_SERVICE_NAME)"
    )
    otel_resource_attributes: str | None = Field(
        None, description="more resource attributes, key=value,key2=value2 (OTEL_RESOURCE_ATTRIBUTES)"
    )
    otel_sample_ratio: float = Field(
        1.0, ge=0, le=1, description="share of new traces recorded (a client's traceparent decides for its own)"
    )
    otel_queue_size: int = Field(
        2048,
        ge=1,
        description="spans waiting for export, at most; more are dropped and counted (OTEL_BSP_MAX_QUEUE_SIZE)",
    )
    otel_export_timeout_s: float = Field(10.0, gt=0, description="longest wait for the collector to take one export")
    otel_metrics_interval_s: float = Field(60.0, gt=0, description="how often metrics are exported over OTLP")

    # --- shared state (several replicas) ---------------------------------------------------------
    redis_url: str | None = Field(
        None,
        repr=False,
        description=(
            "Redis shared by replicas for rate limits, budgets, sticky pins and health marks "
            "(redis://[user:password@]host:port/db, rediss://, unix://); unset = this process only"
        ),
    )
    redis_key_prefix: str = Field(
        "tfy-gateway",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="prefix of every Redis key, so that several deployments can share one Redis",
    )
    state_timeout_ms: int = Field(
        250, ge=1, le=10_000, description="longest wait for one Redis call before on_state_error applies"
    )
    on_state_error: Literal["fail-open", "fail-closed"] = Field(
        "fail-open",
        description=(
            "Redis unreachable: fail-open admits and counts locally per replica until it is back; "
            "fail-closed refuses requests with limits with a 503"
        ),
    )
    state_breaker_failures: int = Field(
        3, ge=1, description="consecutive failed Redis calls that open the circuit breaker (calls then fail fast)"
    )
    state_breaker_cooldown_s: float = Field(
        1.0, gt=0, description="how long the open breaker waits before one probe call to Redis"
    )
    routing_refresh_ms: int = Field(
        250, ge=10, description="with Redis: how often health marks are re-read (pub/sub brings them sooner)"
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "worker processes serving one port; more than 1 needs --redis-url (limits, budgets, sticky pins "
            "and health marks are shared through it)"
        ),
    )

    @field_validator("workers")
    @classmethod
    def _workers_share_state(cls, value: int, info: ValidationInfo) -> int:
        # Each worker is a process of its own: without a shared store every one of them would admit a
        # full limit, N times what the manifests say. Refusing beats vouching for limits not kept.
        if value > 1 and not info.data.get("redis_url"):
            raise ValueError(
                f"{value} workers need --redis-url (TFY_GATEWAY_REDIS_URL): without it each worker would count "
                "rate limits and budgets on its own and admit that many times the limit; start a redis-server "
                "or run one worker"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _shared_admin_token(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A generated admin token lives in one replica's data dir, and the next replica to start would
        # replace it with its own: replicas sharing a database share one admin token instead.
        if value and info.data.get("admin_token") is None:
            raise ValueError(
                "replicas sharing a database need one admin token: set TFY_GATEWAY_ADMIN_TOKEN=tfy_... to the same "
                "value on every replica (a generated one would be replaced by each replica that starts)"
            )
        return value

    @field_validator("alert_retry_max_s")
    @classmethod
    def _max_at_least_base(cls, value: float, info: ValidationInfo) -> float:
        base = info.data.get("alert_retry_base_s")
        if base is not None and value < base:
            raise ValueError(f"must be at least alert_retry_base_s ({base:g})")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("it must start with redis://, rediss:// or unix:// (e.g. redis://127.0.0.1:6379/0)")
        return value

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / ADMIN_TOKEN_FILE

    def routing(self) -> RoutingSettings:
        return RoutingSettings(
            latency_window_s=self.latency_window_s,
            latency_window_calls=self.latency_window_calls,
            latency_min_samples=self.latency_min_samples,
            latency_fast_ratio=self.latency_fast_ratio,
            failure_threshold=self.failure_threshold,
            failure_window_s=self.failure_window_s,
            failure_cooldown_s=self.failure_cooldown_s,
            sla_cooldown_s=self.sla_cooldown_s,
            max_total_attempts=self.max_total_attempts,
            retry_after_cap_s=self.retry_after_cap_s,
            model_cache_size=self.model_cache_size,
        )


class SettingsError(ConfigError, ValueError):
    """A flag or variable holds a value the gateway cannot use; the message says which and why."""


def env_var(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def is_env_only(name: str) -> bool:
    extra = GatewaySettings.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("env_only"))


def load_settings(flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> GatewaySettings:
    """Flags (only those given) over `TFY_GATEWAY_*` variables over the standard `OTEL_*` ones
    (`observability/environment.py`) over defaults; `SettingsError` if invalid."""
    flags = dict(flags or {})
    environ = environ or {}
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    standard = standard_values(environ)
    for name in GatewaySettings.model_fields:
        if name in standard:
            source[name], values[name] = standard[name]
        variable = env_var(name)
        raw = environ.get(variable)
        if raw is not None and raw.strip() != "":
            values[name] = raw.strip()
            source[name] = variable
        if name in flags and flags[name] is not None:
            values[name] = flags[name]
            source[name] = flag(name)
    try:
        return GatewaySettings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_explain(exc, values, source)) from None


def _explain(exc: ValidationError, values: Mapping[str, Any], source: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        where = source.get(name, name)
        shown = "<hidden>" if name in _HIDDEN else repr(values.get(name))
        if name == "redis_url" and isinstance(values.get(name), str):
            shown = repr(mask_url(values[name]))
        field = GatewaySettings.model_fields.get(name)
        allowed = _allowed(field.annotation if field else None, error["type"], error.get("ctx") or {})
        message = error["msg"]
        lines.append(f"{where}={shown}: {message[:1].lower()}{message[1:]}{allowed}")
    return "; ".join(lines)


_HIDDEN = frozenset({"admin_token", "database_url", "otel_headers"})  # may carry a password: never echoed back


def _allowed(annotation: Any, kind: str, ctx: Mapping[str, Any]) -> str:
    if annotation is bool:
        return " (allowed: true/false, 1/0, yes/no, on/off)"
    if kind == "string_pattern_mismatch":
        if "postgres" in str(ctx.get("pattern", "")):
            return " (it must be a postgresql:// URL, e.g. postgresql://gateway@db.internal:5432/gateway)"
        if "http" in str(ctx.get("pattern", "")):
            return " (it must be an http:// or https:// URL)"
        return " (it must start with tfy_ and contain no spaces)"
    return ""
