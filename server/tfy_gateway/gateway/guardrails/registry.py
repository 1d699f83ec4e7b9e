"""Guardrail integration manifests -> compiled guardrails, and which types this gateway runs.

Runs in process: regex, tfy-pii, secret-detection, sql-sanitizer, code-safety-linter, tfy-metadata.
Calls a service: custom, opa, openai-moderations, azure-content-safety and azure-prompt-shield (key
auth). Every other type of the platform is stored but not run here: it compiles to `NotRun`, which
reports `skipped`, and applying it says so (support.py). An integration whose secret has no value
compiles to `Misconfigured`, an error on every check (so `enforcing_strategy` decides), never a
silent pass.
"""

from __future__ import annotations

from collections.abc import Callable

from tfy_gateway.gateway.guardrails.azure_content_safety import (
    AzureContentSafetyGuardrail,
    AzurePromptShieldGuardrail,
    endpoint,
)
from tfy_gateway.gateway.guardrails.code_safety import CodeSafetyScanner
from tfy_gateway.gateway.guardrails.custom import CustomGuardrail, auth_headers
from tfy_gateway.gateway.guardrails.integration import (
    Guardrail,
    GuardrailCall,
    GuardrailUnavailable,
    NotRun,
    RemoteGuardrail,
    Spec,
    Verdict,
)
from tfy_gateway.gateway.guardrails.opa import OpaGuardrail, opa_url
from tfy_gateway.gateway.guardrails.openai_moderations import DEFAULT_BASE_URL, OpenAIModerationsGuardrail
from tfy_gateway.gateway.guardrails.pii import PiiScanner
from tfy_gateway.gateway.guardrails.regex import RegexScanner, compile_patterns
from tfy_gateway.gateway.guardrails.scanning import ScanningGuardrail
from tfy_gateway.gateway.guardrails.secret_detection import SecretScanner
from tfy_gateway.gateway.guardrails.sql_sanitizer import SqlScanner
from tfy_gateway.gateway.guardrails.tfy_metadata import TfyMetadataGuardrail
from tfy_gateway.gateway.providers.secrets import SecretError
from tfy_gateway.manifests import guardrail_integrations as local
from tfy_gateway.manifests.guardrail_groups import AnyGuardrail
from tfy_gateway.manifests.guardrail_integrations import INTEGRATION_PREFIX
from tfy_gateway.manifests.guardrail_vendors import AzureContentSafetyGuardrail as AzureContentSafetyManifest
from tfy_gateway.manifests.guardrail_vendors import AzurePromptShieldGuardrail as AzurePromptShieldManifest
from tfy_gateway.manifests.providers import ApiKeyAuth

Resolve = Callable[[str], str]

LOCAL_TYPES = frozenset({"regex", "tfy-pii", "secret-detection", "sql-sanitizer", "code-safety-linter", "tfy-metadata"})
REMOTE_TYPES = frozenset({"custom", "opa", "openai-moderations", "azure-content-safety", "azure-prompt-shield"})
KEY_AUTH_ONLY = frozenset({"azure-content-safety", "azure-prompt-shield"})


def kind_of(integration: AnyGuardrail) -> str:
    return integration.type.removeprefix(INTEGRATION_PREFIX)


def spec_of(group: str, integration: AnyGuardrail) -> Spec:
    priority = getattr(integration, "priority", None)
    return Spec(
        ref=f"{group}/{integration.name}",
        kind=kind_of(integration),
        operation=integration.operation,
        strategy=integration.enforcing_strategy,
        priority=1 if priority is None else priority,
    )


def runs_locally(integration: AnyGuardrail) -> bool:
    """Whether this gateway enforces `integration` (otherwise it is stored and skipped)."""
    kind = kind_of(integration)
    if kind in KEY_AUTH_ONLY:
        return isinstance(getattr(integration, "auth_data", None), ApiKeyAuth)
    return kind in LOCAL_TYPES or kind in REMOTE_TYPES


class Misconfigured(RemoteGuardrail):
    """An integration that cannot be called as configured (e.g. its secret has no value)."""

    def __init__(self, spec: Spec, problem: str) -> None:
        super().__init__(spec)
        self.problem = problem

    async def check(self, call: GuardrailCall) -> Verdict:
        raise GuardrailUnavailable(self.problem)


def build(group: str, integration: AnyGuardrail, resolve: Resolve) -> Guardrail:
    """The compiled guardrail of one integration (patterns compiled, secrets resolved)."""
    spec = spec_of(group, integration)
    if not runs_locally(integration):
        return NotRun(spec)
    try:
        return _build(spec, integration, resolve)
    except SecretError as exc:
        return Misconfigured(spec, f"{spec.ref} cannot be called: {exc}")


def _build(spec: Spec, integration: AnyGuardrail, resolve: Resolve) -> Guardrail:
    if isinstance(integration, local.RegexGuardrail):
        return ScanningGuardrail(spec, RegexScanner(compile_patterns(integration.config)), "patterns")
    if isinstance(integration, local.TfyPiiGuardrail):
        return ScanningGuardrail(spec, PiiScanner(integration.config.pii_categories), "PII")
    if isinstance(integration, local.SecretDetectionGuardrail):
        secrets = integration.config
        redaction = (
            secrets.redaction_text if secrets is not None and secrets.redaction_text is not None else "[REDACTED]"
        )
        return ScanningGuardrail(spec, SecretScanner(redaction), "secrets")
    if isinstance(integration, local.SqlSanitizerGuardrail):
        return ScanningGuardrail(spec, SqlScanner(integration.config), "risky SQL")
    if isinstance(integration, local.CodeSafetyLinterGuardrail):
        return ScanningGuardrail(spec, CodeSafetyScanner(), "unsafe code")
    if isinstance(integration, local.TfyMetadataGuardrail):
        return TfyMetadataGuardrail(spec, integration.config)
    if isinstance(integration, local.CustomGuardrail):
        server = integration.config
        headers = {name: resolve(value) for name, value in (server.headers or {}).items()}
        headers.update(auth_headers(integration.auth_data, resolve))
        return CustomGuardrail(spec, server.url, headers, server.config)
    if isinstance(integration, local.OpaGuardrail):
        auth = integration.auth_data
        if isinstance(auth, local.OpaHeaderAuth):
            headers = {name: resolve(value) for name, value in auth.headers.items()}
        elif auth is not None:
            headers = {"authorization": f"Bearer {resolve(auth.bearer_token)}"}
        else:
            headers = {}
        return OpaGuardrail(spec, opa_url(integration.config.opa_url, integration.config.policy_path), headers)
    if isinstance(integration, local.OpenAIModerationsGuardrail):
        moderation = integration.config
        return OpenAIModerationsGuardrail(
            spec,
            moderation.base_url or DEFAULT_BASE_URL,
            resolve(integration.auth_data.api_key),
            moderation.model,
            moderation.category_thresholds,
        )
    if isinstance(integration, AzureContentSafetyManifest) and isinstance(integration.auth_data, ApiKeyAuth):
        safety = integration.config
        return AzureContentSafetyGuardrail(
            spec,
            endpoint(safety.resource_name, safety.custom_host),
            safety.api_version,
            resolve(integration.auth_data.api_key),
            safety.categories,
            safety.severity_threshold,
            safety.blocklist_names or (),
        )
    if isinstance(integration, AzurePromptShieldManifest) and isinstance(integration.auth_data, ApiKeyAuth):
        shield = integration.config
        return AzurePromptShieldGuardrail(
            spec,
            endpoint(shield.resource_name, shield.custom_host),
            shield.api_version,
            resolve(integration.auth_data.api_key),
        )
    return NotRun(spec)
