"""`CompiledConfig`: everything a request reads about the applied configuration, as one value.

An applied snapshot compiles into the catalog (upstream targets and prices), model access, the
routing rules, the rate-limit and budget rules, the guardrails (rules, integrations with their
patterns compiled and secrets resolved) and the token map (identities) together, so a request
that reads `ConfigHub.current` once authenticates, routes and is limited against one version of all of
them. Compiling is pure and runs in a worker thread (`ConfigWriter`): the event loop never waits for a
large apply. A change that touches no manifest (a token created or revoked) recompiles the identities
only and shares every other part with the previous version.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from tfy_gateway.gateway.access import ModelAccess
from tfy_gateway.gateway.accounting import PriceTable
from tfy_gateway.gateway.auth import Authenticator
from tfy_gateway.gateway.config.catalog import EMPTY_CATALOG, ModelCatalog, build_catalog, load_secrets
from tfy_gateway.gateway.errors import ConfigError
from tfy_gateway.gateway.guardrails import CompiledGuardrails, compile_guardrails
from tfy_gateway.gateway.identities import authenticator_for
from tfy_gateway.gateway.limits.policies import LimitPolicies, compile_policies
from tfy_gateway.gateway.observability.spec import TELEMETRY_OFF, TelemetryDefaults, TelemetrySpec, compile_telemetry
from tfy_gateway.gateway.providers.offline import OFFLINE_SECRET
from tfy_gateway.gateway.routing.compiled import CompiledRouting, compile_snapshot
from tfy_gateway.gateway.snapshot import ConfigSnapshot


class CompileError(ConfigError):
    """The snapshot validated but could not be compiled; nothing was installed."""

    def __init__(self, part: str, version: int, cause: BaseException) -> None:
        super().__init__(f"compiling the {part} of configuration version {version} failed: {cause}")
        self.part = part


@dataclass(frozen=True)
class CompiledConfig:
    snapshot: ConfigSnapshot
    catalog: ModelCatalog
    routing: CompiledRouting
    limits: LimitPolicies
    identities: Authenticator = field(default_factory=Authenticator)
    # Where traces and metrics are exported (the applied gateway-otel-config, else the process default).
    telemetry: TelemetrySpec = TELEMETRY_OFF
    guardrails: CompiledGuardrails = field(default_factory=CompiledGuardrails)

    @property
    def version(self) -> int:
        return self.snapshot.version

    @property
    def access(self) -> ModelAccess:
        return self.snapshot.access


EMPTY_CONFIG = CompiledConfig(ConfigSnapshot(), EMPTY_CATALOG, CompiledRouting(), LimitPolicies())


@dataclass(frozen=True)
class ConfigCompiler:
    """What compiling needs besides the snapshot: where secrets live, prices, the default telemetry, the
    fake provider that answers every model offline (`offline_upstream`, see providers/offline.py), and the
    guardrail timeout used when `gateway-global-settings` sets none."""

    data_dir: Path
    prices: PriceTable
    telemetry: TelemetryDefaults = field(default_factory=TelemetryDefaults)
    offline_upstream: str | None = None
    guardrail_timeout_ms: int = 5000

    def compile(self, snapshot: ConfigSnapshot, previous: CompiledConfig | None = None) -> CompiledConfig:
        """Every part or nothing: the first part that fails raises `CompileError`. With `previous`
        holding the same resources (a change to users or tokens only), its parts are reused."""
        identities = authenticator_for(snapshot)
        if previous is not None and previous.snapshot.resources is snapshot.resources:
            return replace(previous, snapshot=snapshot, identities=identities)
        try:
            routing = compile_snapshot(snapshot)
        except Exception as exc:
            raise CompileError("routing rules", snapshot.version, exc) from exc
        # Secrets are re-read on every config change so a newly added secret needs no restart. Offline, a
        # provider's secret without a value is a placeholder (the fake provider takes any key); telemetry's
        # are not (its collector is real).
        secrets = load_secrets(self.data_dir)
        provider_secrets = load_secrets(self.data_dir, OFFLINE_SECRET) if self.offline_upstream else secrets
        try:
            catalog = build_catalog(snapshot, provider_secrets, self.prices, self.offline_upstream)
        except Exception as exc:
            raise CompileError("model catalog", snapshot.version, exc) from exc
        try:
            limits = compile_policies(snapshot)
        except Exception as exc:
            raise CompileError("rate-limit and budget rules", snapshot.version, exc) from exc
        try:
            telemetry = compile_telemetry(snapshot.otel(), self.telemetry, secrets)
        except Exception as exc:
            raise CompileError("OpenTelemetry export", snapshot.version, exc) from exc
        if previous is not None and previous.telemetry == telemetry:
            telemetry = previous.telemetry  # the same value: the data plane keeps its exporters
        try:
            guardrails = compile_guardrails(
                snapshot.guardrail_rules(),
                snapshot.guardrail_groups(),
                snapshot.global_settings(),
                secrets.resolve,
                default_timeout_ms=self.guardrail_timeout_ms,
            )
        except Exception as exc:
            raise CompileError("guardrails", snapshot.version, exc) from exc
        return CompiledConfig(snapshot, catalog, routing, limits, identities, telemetry, guardrails)
