"""V2 model rate limits: `tenant-rate-limit-config/model`, one named limit per manifest.

Not in truefoundry-sdk 0.6.0. The platform documents (ai-gateway/ratelimiting-v2,
change-announcements/deprecation-of-rate-limiting-v1): one named limit per config, several windows
on one limit (requests and tokens, per minute, hour and day), `in`/`NOT IN` filters on subjects,
models, provider accounts and metadata, per-entity overrides, an audit (warn-only) mode; every
matching limit must allow a request and usage counts against every matching limit. Field names the
docs do not spell out mirror the V2 budget schema (`when`, `limits`, `applies_to`, `overrides`,
`mode`) and V1's unit names; references/rate-limiting.md marks each one "inferred".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.filters_v2 import InNotInFilter, TenantSubjects
from tfy_gateway.manifests.names import Label, MetadataKey
from tfy_gateway.manifests.numbers import Count

MODEL_RATE_WINDOWS: tuple[tuple[str, ...], ...] = (
    ("requests_per_minute", "requests_per_hour", "requests_per_day"),
    ("tokens_per_minute", "tokens_per_hour", "tokens_per_day"),
)
"""Windows grouped by what they count, shortest first."""

RateLimitMode = Literal["enforce", "audit"]
_MODE = "enforce blocks a request once a window is exhausted; audit only records that it would have."
_LOG_BODY = "Log the body of requests this limit blocks (inferred from platform manifests; default off)."
_NAME = "Unique among model rate limits (an MCP rate limit may share it)."


class ModelRateLimits(StrictModel):
    """Windows of one limit; set one or more. Tokens are input + output tokens."""

    requests_per_minute: Count | None = Field(default=None)
    requests_per_hour: Count | None = Field(default=None)
    requests_per_day: Count | None = Field(default=None)
    tokens_per_minute: Count | None = Field(default=None)
    tokens_per_hour: Count | None = Field(default=None)
    tokens_per_day: Count | None = Field(default=None)

    def windows(self) -> dict[str, int]:
        """The windows set: `{"requests_per_minute": 60, ...}` (requests first, shortest first)."""
        names = [name for group in MODEL_RATE_WINDOWS for name in group]
        return {name: value for name in names if (value := getattr(self, name)) is not None}


class RateLimitPerUserOverride(StrictModel):
    """Users whose counters use these windows instead of the limit's."""

    users: list[str] = Field(min_length=1, description="User emails (bare, no `user:` prefix).")
    limits: ModelRateLimits


class RateLimitPerTeamOverride(StrictModel):
    """Teams whose counters use these windows instead of the limit's."""

    teams: list[str] = Field(min_length=1, description="Team names.")
    limits: ModelRateLimits


class RateLimitPerVirtualAccountOverride(StrictModel):
    """Virtual accounts whose counters use these windows instead of the limit's."""

    virtual_accounts: list[str] = Field(min_length=1, description="Virtual-account names.")
    limits: ModelRateLimits


class RateLimitPerModelOverride(StrictModel):
    """Models whose counters use these windows instead of the limit's."""

    models: list[str] = Field(min_length=1, description='Model ids "<provider-account>/<model>".')
    limits: ModelRateLimits


class RateLimitPerMetadataOverride(StrictModel):
    """Values of the metadata key whose counters use these windows instead of the limit's."""

    metadata_values: list[str] = Field(min_length=1, description="Values of the applies_to metadata key.")
    limits: ModelRateLimits


class RateLimitAppliesToAggregate(StrictModel):
    """One set of counters shared by every matching request."""

    type: Literal["aggregate"]


class RateLimitAppliesToPerUser(StrictModel):
    """Separate counters per user (virtual-account requests have no user and are not counted)."""

    type: Literal["per-user"]
    overrides: list[RateLimitPerUserOverride] | None = None


class RateLimitAppliesToPerTeam(StrictModel):
    """Separate counters per team of the caller (a request counts for each of its teams)."""

    type: Literal["per-team"]
    overrides: list[RateLimitPerTeamOverride] | None = None


class RateLimitAppliesToPerVirtualAccount(StrictModel):
    """Separate counters per virtual account (user requests are not counted)."""

    type: Literal["per-virtual-account"]
    overrides: list[RateLimitPerVirtualAccountOverride] | None = None


class RateLimitAppliesToPerModel(StrictModel):
    """Separate counters per requested model."""

    type: Literal["per-model"]
    overrides: list[RateLimitPerModelOverride] | None = None


class RateLimitAppliesToMetadata(StrictModel):
    """Separate counters per value of one X-TFY-METADATA key."""

    type: Literal["metadata"]
    metadata: MetadataKey = Field(description="The metadata key whose values each get counters.")
    overrides: list[RateLimitPerMetadataOverride] | None = None


ModelRateLimitAppliesTo = Annotated[
    RateLimitAppliesToAggregate
    | RateLimitAppliesToPerUser
    | RateLimitAppliesToPerTeam
    | RateLimitAppliesToPerVirtualAccount
    | RateLimitAppliesToPerModel
    | RateLimitAppliesToMetadata,
    Field(discriminator="type"),
]

MODEL_RATE_OVERRIDE_ENTITIES: dict[type[StrictModel], tuple[str, str]] = {
    RateLimitPerUserOverride: ("per-user", "users"),
    RateLimitPerTeamOverride: ("per-team", "teams"),
    RateLimitPerVirtualAccountOverride: ("per-virtual-account", "virtual_accounts"),
    RateLimitPerModelOverride: ("per-model", "models"),
    RateLimitPerMetadataOverride: ("metadata", "metadata_values"),
}
"""Override class -> (the applies_to type it belongs to, the field listing its entities)."""


class ModelRateLimitWhen(StrictModel):
    """Which LLM requests the limit applies to: fields AND-combined; omitted = every request."""

    subjects: TenantSubjects | None = None
    models: InNotInFilter | None = Field(default=None, description='Model ids "<provider-account>/<model>".')
    provider_accounts: InNotInFilter | None = Field(default=None, description="Provider-account names.")
    metadata: dict[MetadataKey, InNotInFilter] | None = Field(
        default=None, description="Per X-TFY-METADATA key, the values that match."
    )


class ModelRateLimitConfig(StrictModel):
    """One named rate limit on LLM traffic; every matching V2 limit must allow a request."""

    name: Label = Field(description=_NAME)
    type: Literal["tenant-rate-limit-config/model"]
    when: ModelRateLimitWhen | None = None
    limits: ModelRateLimits
    applies_to: ModelRateLimitAppliesTo
    mode: RateLimitMode = Field(description=_MODE)
    log_request_body_on_block: bool | None = Field(default=None, description=_LOG_BODY)
