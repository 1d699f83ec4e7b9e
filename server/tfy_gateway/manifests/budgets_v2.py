"""V2 budgets: `tenant-budget-config` and `team-budget-config`, one named rule per manifest.

Field names and classes follow truefoundry-sdk 0.6.0 (`TenantBudgetConfig`, `TeamBudgetConfig`,
`BudgetV2*`), the platform's authoritative schema. Semantics (docs: ai-gateway/budget-limiting-v2):
every matching rule must allow a request, and its cost counts against every matching rule.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tfy_gateway.manifests.common import NotificationTarget, StrictModel
from tfy_gateway.manifests.filters_v2 import InNotInFilter, TeamSubjects, TenantSubjects
from tfy_gateway.manifests.names import Label, MetadataKey
from tfy_gateway.manifests.numbers import Percent, Usd

BUDGET_PERIODS: tuple[str, ...] = (
    "cost_per_day",
    "cost_per_week",
    "cost_per_month",
    "cost_per_quarter",
    "cost_per_lifetime",
)
"""Periods shortest first; a day resets at UTC midnight, a week on Monday, a month on the 1st, a
quarter on Jan/Apr/Jul/Oct 1st, a lifetime never."""

BudgetMode = Literal["enforce", "audit", "soft_enforce"]


class BudgetV2Limits(StrictModel):
    """USD caps per period; set one or more. A lifetime cap excludes the periodic ones."""

    cost_per_day: Usd | None = Field(default=None, description="USD per UTC day.")
    cost_per_week: Usd | None = Field(default=None, description="USD per week (Monday 00:00 UTC).")
    cost_per_month: Usd | None = Field(default=None, description="USD per calendar month (UTC).")
    cost_per_quarter: Usd | None = Field(default=None, description="USD per calendar quarter (UTC).")
    cost_per_lifetime: Usd | None = Field(
        default=None, description="USD for ever (never resets); excludes day/week/month/quarter."
    )

    def periods(self) -> dict[str, float]:
        """The periods set, shortest first: `{"cost_per_day": 10.0, ...}`."""
        return {name: value for name in BUDGET_PERIODS if (value := getattr(self, name)) is not None}


class BudgetV2OverrideLimits(BudgetV2Limits):
    """The caps for the entities an override names; they replace all of the rule's limits."""


class BudgetV2PerUserOverride(StrictModel):
    """Users whose budget uses these limits instead of the rule's."""

    users: list[str] = Field(min_length=1, description="User emails (bare, no `user:` prefix).")
    limits: BudgetV2OverrideLimits


class BudgetV2PerModelOverride(StrictModel):
    """Models whose budget uses these limits instead of the rule's."""

    models: list[str] = Field(min_length=1, description='Model ids "<provider-account>/<model>".')
    limits: BudgetV2OverrideLimits


class BudgetV2PerVirtualAccountOverride(StrictModel):
    """Virtual accounts whose budget uses these limits instead of the rule's."""

    virtual_accounts: list[str] = Field(min_length=1, description="Virtual-account names.")
    limits: BudgetV2OverrideLimits


class BudgetV2PerMetadataOverride(StrictModel):
    """Values of the metadata key whose budget uses these limits instead of the rule's."""

    metadata_values: list[str] = Field(min_length=1, description="Values of the applies_to metadata key.")
    limits: BudgetV2OverrideLimits


class BudgetV2AppliesToAggregate(StrictModel):
    """One budget shared by every matching request."""

    type: Literal["aggregate"]


class BudgetV2AppliesToPerUser(StrictModel):
    """A separate budget for each user (requests without a user, i.e. virtual accounts, are not counted)."""

    type: Literal["per-user"]
    overrides: list[BudgetV2PerUserOverride] | None = None


class BudgetV2AppliesToPerModel(StrictModel):
    """A separate budget for each model."""

    type: Literal["per-model"]
    overrides: list[BudgetV2PerModelOverride] | None = None


class BudgetV2AppliesToPerVirtualAccount(StrictModel):
    """A separate budget for each virtual account (user requests are not counted)."""

    type: Literal["per-virtual-account"]
    overrides: list[BudgetV2PerVirtualAccountOverride] | None = None


class BudgetV2AppliesToMetadata(StrictModel):
    """A separate budget for each value of one X-TFY-METADATA key."""

    type: Literal["metadata"]
    metadata: MetadataKey = Field(description="The metadata key whose values each get a budget.")
    overrides: list[BudgetV2PerMetadataOverride] | None = None


BudgetV2AppliesTo = Annotated[
    BudgetV2AppliesToAggregate
    | BudgetV2AppliesToPerUser
    | BudgetV2AppliesToPerModel
    | BudgetV2AppliesToPerVirtualAccount
    | BudgetV2AppliesToMetadata,
    Field(discriminator="type"),
]

BUDGET_OVERRIDE_ENTITIES: dict[type[StrictModel], tuple[str, str]] = {
    BudgetV2PerUserOverride: ("per-user", "users"),
    BudgetV2PerModelOverride: ("per-model", "models"),
    BudgetV2PerVirtualAccountOverride: ("per-virtual-account", "virtual_accounts"),
    BudgetV2PerMetadataOverride: ("metadata", "metadata_values"),
}
"""Override class -> (the applies_to type it belongs to, the field listing its entities)."""


class BudgetV2Alert(StrictModel):
    """Notify when usage crosses a percentage of a limit (each period, each entity)."""

    thresholds: list[Percent] = Field(description="Percentages of the limit, 0..100, e.g. [75, 90, 95, 100].")
    notification_target: list[NotificationTarget] | None = None


_MODELS = 'Model ids "<provider-account>/<model>".'
_METADATA = "Per X-TFY-METADATA key, the values that match."
_MODE = (
    "enforce blocks breaching requests; audit only tracks them; soft_enforce blocks only when no other "
    "matching budget allows the request."
)
_NAME = "Unique per tenant, across tenant and team budgets (the platform upserts budgets by name)."


class BudgetV2WhenTenantScoped(StrictModel):
    """Which requests a tenant budget applies to: fields AND-combined; omitted = every request."""

    subjects: TenantSubjects | None = None
    models: InNotInFilter | None = Field(default=None, description=_MODELS)
    provider_accounts: InNotInFilter | None = Field(default=None, description="Provider-account names.")
    metadata: dict[MetadataKey, InNotInFilter] | None = Field(default=None, description=_METADATA)


class BudgetV2WhenTeamScoped(StrictModel):
    """Which of the team's requests a team budget applies to: fields AND-combined."""

    subjects: TeamSubjects | None = None
    models: InNotInFilter | None = Field(default=None, description=_MODELS)
    provider_accounts: InNotInFilter | None = Field(default=None, description="Provider-account names.")
    metadata: dict[MetadataKey, InNotInFilter] | None = Field(default=None, description=_METADATA)


class TenantBudgetConfig(StrictModel):
    """A tenant-wide budget rule (tenant admins); every matching V2 budget must allow a request."""

    name: Label = Field(description=_NAME)
    type: Literal["tenant-budget-config"]
    when: BudgetV2WhenTenantScoped | None = None
    limits: BudgetV2Limits
    applies_to: BudgetV2AppliesTo
    mode: BudgetMode = Field(description=_MODE)
    alerts: BudgetV2Alert | None = None


class TeamBudgetConfig(StrictModel):
    """A budget rule over one team's traffic (tenant admins and the team's managers)."""

    name: Label = Field(description=_NAME)
    type: Literal["team-budget-config"]
    team_name: Label = Field(description="The team that owns this budget (RBAC is checked on it).")
    when: BudgetV2WhenTeamScoped | None = None
    limits: BudgetV2Limits
    applies_to: BudgetV2AppliesTo
    mode: BudgetMode = Field(description=_MODE)
    alerts: BudgetV2Alert | None = None


BudgetV2Config = TenantBudgetConfig | TeamBudgetConfig
