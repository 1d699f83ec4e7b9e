"""V2 MCP rate limits: `tenant-rate-limit-config/mcp`, tool calls per window.

Validated and stored; the local gateway has no MCP proxy, so it never enforces them (apply says so).
Not in truefoundry-sdk 0.6.0: `when.mcp_servers` (`<server>` or `<server>:<tool>`),
`tool_calls_per_minute|hour`, `applies_to: per-user`, `mode`, `log_request_body_on_block` are as in
public manifests applied to the platform; the rest mirrors the model family and is "inferred".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.filters_v2 import InNotInFilter, TenantSubjects
from tfy_gateway.manifests.names import Label, MetadataKey
from tfy_gateway.manifests.numbers import Count
from tfy_gateway.manifests.rate_limits_v2 import RateLimitAppliesToAggregate, RateLimitMode

MCP_RATE_WINDOWS: tuple[tuple[str, ...], ...] = (
    ("tool_calls_per_minute", "tool_calls_per_hour", "tool_calls_per_day"),
)


class McpRateLimits(StrictModel):
    """Tool-call windows of one limit; set one or more."""

    tool_calls_per_minute: Count | None = Field(default=None)
    tool_calls_per_hour: Count | None = Field(default=None)
    tool_calls_per_day: Count | None = Field(default=None, description="Inferred (minute and hour are seen).")

    def windows(self) -> dict[str, int]:
        return {name: value for name in MCP_RATE_WINDOWS[0] if (value := getattr(self, name)) is not None}


class McpRateLimitPerUserOverride(StrictModel):
    """Users whose counters use these windows instead of the limit's."""

    users: list[str] = Field(min_length=1, description="User emails (bare, no `user:` prefix).")
    limits: McpRateLimits


class McpRateLimitPerTeamOverride(StrictModel):
    """Teams whose counters use these windows instead of the limit's."""

    teams: list[str] = Field(min_length=1, description="Team names.")
    limits: McpRateLimits


class McpRateLimitPerVirtualAccountOverride(StrictModel):
    """Virtual accounts whose counters use these windows instead of the limit's."""

    virtual_accounts: list[str] = Field(min_length=1, description="Virtual-account names.")
    limits: McpRateLimits


class McpRateLimitPerMetadataOverride(StrictModel):
    """Values of the metadata key whose counters use these windows instead of the limit's."""

    metadata_values: list[str] = Field(min_length=1, description="Values of the applies_to metadata key.")
    limits: McpRateLimits


class McpRateLimitAppliesToPerUser(StrictModel):
    """Separate counters per user."""

    type: Literal["per-user"]
    overrides: list[McpRateLimitPerUserOverride] | None = None


class McpRateLimitAppliesToPerTeam(StrictModel):
    """Separate counters per team of the caller."""

    type: Literal["per-team"]
    overrides: list[McpRateLimitPerTeamOverride] | None = None


class McpRateLimitAppliesToPerVirtualAccount(StrictModel):
    """Separate counters per virtual account."""

    type: Literal["per-virtual-account"]
    overrides: list[McpRateLimitPerVirtualAccountOverride] | None = None


class McpRateLimitAppliesToMetadata(StrictModel):
    """Separate counters per value of one X-TFY-METADATA key."""

    type: Literal["metadata"]
    metadata: MetadataKey = Field(description="The metadata key whose values each get counters.")
    overrides: list[McpRateLimitPerMetadataOverride] | None = None


McpRateLimitAppliesTo = Annotated[
    RateLimitAppliesToAggregate
    | McpRateLimitAppliesToPerUser
    | McpRateLimitAppliesToPerTeam
    | McpRateLimitAppliesToPerVirtualAccount
    | McpRateLimitAppliesToMetadata,
    Field(discriminator="type"),
]

MCP_RATE_OVERRIDE_ENTITIES: dict[type[StrictModel], tuple[str, str]] = {
    McpRateLimitPerUserOverride: ("per-user", "users"),
    McpRateLimitPerTeamOverride: ("per-team", "teams"),
    McpRateLimitPerVirtualAccountOverride: ("per-virtual-account", "virtual_accounts"),
    McpRateLimitPerMetadataOverride: ("metadata", "metadata_values"),
}


class McpRateLimitWhen(StrictModel):
    """Which tool calls the limit applies to: fields AND-combined; omitted = every tool call."""

    subjects: TenantSubjects | None = None
    mcp_servers: InNotInFilter | None = Field(
        default=None, description='MCP server names, or "<server>:<tool>" for one tool.'
    )
    metadata: dict[MetadataKey, InNotInFilter] | None = Field(
        default=None, description="Per X-TFY-METADATA key, the values that match."
    )


class McpRateLimitConfig(StrictModel):
    """One named rate limit on MCP tool calls; every matching V2 limit must allow a call."""

    name: Label = Field(description="Unique among MCP rate limits (a model rate limit may share it).")
    type: Literal["tenant-rate-limit-config/mcp"]
    when: McpRateLimitWhen | None = None
    limits: McpRateLimits
    applies_to: McpRateLimitAppliesTo
    mode: RateLimitMode = Field(description="enforce blocks once a window is exhausted; audit only records it.")
    log_request_body_on_block: bool | None = Field(
        default=None, description="Log the arguments of tool calls this limit blocks (default off)."
    )
