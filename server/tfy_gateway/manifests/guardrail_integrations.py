"""`integration/guardrail-config/*` entries that TrueFoundry itself provides (truefoundry-sdk 0.6.0).

Every integration shares `name`, `description`, `operation` and `enforcing_strategy`; the types
that may rewrite content accept `operation: validate | mutate` and a `priority` (lower runs first,
mutate only), the others only `validate`. Third-party services are in guardrail_vendors.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.guardrail_values import AZURE_PII_CATEGORIES, REGEX_PRESETS, one_of
from tfy_gateway.manifests.names import ModelName

EnforcingStrategy = Literal["enforce", "enforce_but_ignore_on_error", "audit"]
ContentSafetyCategory = Literal["Hate", "SelfHarm", "Sexual", "Violence"]
PiiCategory = Annotated[str, AfterValidator(one_of(AZURE_PII_CATEGORIES, "PII category"))]
RegexPreset = Annotated[str, AfterValidator(one_of(REGEX_PRESETS, "regex preset"))]
INTEGRATION_PREFIX = "integration/guardrail-config/"


class GuardrailIntegration(StrictModel):
    """What every guardrail integration has."""

    name: ModelName = Field(description="Referenced by rules as `<group>/<name>`.")
    description: str | None = None
    enforcing_strategy: EnforcingStrategy = Field(
        description="enforce: block on a violation or an error; enforce_but_ignore_on_error: block on a "
        "violation only; audit: never block, record the result."
    )


class ValidateOnly(GuardrailIntegration):
    operation: Literal["validate"] = "validate"


class Mutable(GuardrailIntegration):
    operation: Literal["validate", "mutate"] = Field(
        description="validate: pass or block (all run at once); mutate: may also rewrite the content "
        "(run one after another by priority)."
    )
    priority: int | None = Field(default=1, description="Mutate only: lower values run first.")


# --- content scanners run by the gateway -------------------------------------------------------


class PresetRegexPattern(StrictModel):
    presets: list[RegexPreset]


class CustomRegexPattern(StrictModel):
    pattern: str = Field(description="A regular expression matched against the content.")
    redaction_text: str | None = Field(default="[REDACTED]", description="Replaces each match in mutate mode.")


class RegexConfig(StrictModel):
    preset_patterns: PresetRegexPattern | None = None
    custom_patterns: list[CustomRegexPattern] | None = None


class RegexGuardrail(Mutable):
    type: Literal["integration/guardrail-config/regex"]
    config: RegexConfig


class TfyPiiConfig(StrictModel):
    pii_categories: list[PiiCategory] = Field(description="Azure PII category names, or `*` for all.")


class TfyPiiGuardrail(Mutable):
    type: Literal["integration/guardrail-config/tfy-pii"]
    config: TfyPiiConfig


class SecretDetectionConfig(StrictModel):
    redaction_text: str | None = "[REDACTED]"


class SecretDetectionGuardrail(Mutable):
    type: Literal["integration/guardrail-config/secret-detection"]
    config: SecretDetectionConfig | None = None


class SqlSanitizerConfig(StrictModel):
    block_drop: bool | None = True
    block_truncate: bool | None = True
    block_alter: bool | None = True
    block_grant: bool | None = True
    block_revoke: bool | None = True
    strip_comments: bool | None = True
    block_delete_without_where: bool | None = True
    block_update_without_where: bool | None = True
    require_parameterization: bool | None = False


class SqlSanitizerGuardrail(Mutable):
    type: Literal["integration/guardrail-config/sql-sanitizer"]
    config: SqlSanitizerConfig


class CodeSafetyLinterGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/code-safety-linter"]


class KeyPresenceSpec(StrictModel):
    required: Literal[True] | None = None


class RegexConstraint(StrictModel):
    constraint: Literal["regex"]
    regex: str


class AllowedValuesConstraint(StrictModel):
    constraint: Literal["allowed_values"]
    allowed_values: list[str]


class KeyValueSpec(StrictModel):
    required: bool = True
    value: Annotated[RegexConstraint | AllowedValuesConstraint, Field(discriminator="constraint")]


class TfyMetadataConfig(StrictModel):
    allow_unknown_keys: bool = Field(default=True, description="Allow keys of x-tfy-metadata the spec does not name.")
    keys: dict[str, KeyValueSpec | KeyPresenceSpec] = Field(description="Conditions on x-tfy-metadata keys.")


class TfyMetadataGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/tfy-metadata"]
    config: TfyMetadataConfig


# --- guardrails behind an HTTP API the gateway calls ----------------------------------------------


class CustomBasicAuth(StrictModel):
    type: Literal["basic-auth"]
    username: str
    password: str


class CustomBearerAuth(StrictModel):
    type: Literal["bearer-auth"]
    bearer_token: str


class CustomGuardrailServer(StrictModel):
    url: str = Field(description="The guardrail server's endpoint; the gateway POSTs each check to it.")
    headers: dict[str, str] | None = None
    config: dict[str, Any] | None = Field(default=None, description="Sent to the server with every check.")


class CustomGuardrail(Mutable):
    type: Literal["integration/guardrail-config/custom"]
    auth_data: Annotated[CustomBasicAuth | CustomBearerAuth, Field(discriminator="type")] | None = None
    target: Literal["request", "response"] = Field(
        description="request: usable in input guardrails only; response: in output guardrails only."
    )
    config: CustomGuardrailServer


class OpaHeaderAuth(StrictModel):
    type: Literal["header"]
    headers: dict[str, str]


class OpaBearerAuth(StrictModel):
    type: Literal["bearer-auth"]
    bearer_token: str


class OpaConfig(StrictModel):
    opa_url: str = Field(description="Base URL of the OPA server; queried at {opa_url}/v1/data/{policy_path}.")
    policy_path: str = Field(description='e.g. "guardrails/validate".')


class OpaGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/opa"]
    auth_data: Annotated[OpaHeaderAuth | OpaBearerAuth, Field(discriminator="type")] | None = None
    config: OpaConfig


class OpenAIApiKeyAuth(StrictModel):
    type: Literal["api-key"]
    api_key: str


class OpenAIModerationsConfig(StrictModel):
    model: str = "omni-moderation-latest"
    base_url: str | None = Field(default=None, description="Default: https://api.openai.com/v1.")
    category_thresholds: dict[str, float] | None = Field(
        default=None, description="Block when a category's score reaches its threshold (default: OpenAI's `flagged`)."
    )


class OpenAIModerationsGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/openai-moderations"]
    auth_data: OpenAIApiKeyAuth
    config: OpenAIModerationsConfig


class CedarConfig(StrictModel):
    policy: str


class CedarGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/cedar"]
    config: CedarConfig


# --- models TrueFoundry hosts -------------------------------------------------------------------


class TfyContentModerationConfig(StrictModel):
    severity_threshold: float = 2.0
    categories: list[ContentSafetyCategory]


class TfyContentModerationGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/tfy-content-moderation"]
    config: TfyContentModerationConfig


class TfyPromptInjectionGuardrail(ValidateOnly):
    type: Literal["integration/guardrail-config/tfy-prompt-injection"]
