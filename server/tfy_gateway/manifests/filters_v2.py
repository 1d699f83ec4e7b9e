"""The `when` filters of the V2 limit configs: `{in, not_in}` lists per dimension.

Shared by V2 budgets (truefoundry-sdk 0.6.0: `BudgetV2InNotInFilter`, `BudgetV2Subjects*`) and V2
rate limits, whose documentation describes the same filters ("NOT IN exclusions"). Unlike V1's
`when.subjects: ["user:<email>"]`, V2 subjects are split by kind and their values are bare: an email
under `users`, a team name under `teams`, a virtual-account name under `virtual_accounts`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel


class InNotInFilter(StrictModel):
    """Matches when a value is in `in` (any value when `in` is omitted) and none is in `not_in`."""

    in_: list[str] | None = Field(
        default=None, alias="in", description="Match when the value is in this list; omit to match every value."
    )
    not_in: list[str] | None = Field(default=None, description="Never match when the value is in this list.")

    def matches(self, values: Iterable[str]) -> bool:
        """True when one of the request's `values` is allowed by `in` and none is excluded by `not_in`.

        A request can carry several values for one dimension (a user in several teams); one request
        value with no values at all (no user on a virtual-account request) matches only when `in` is
        omitted. Exact string comparison: no wildcards (inferred; the platform documents none for V2).
        """
        present = set(values)
        if self.not_in and present.intersection(self.not_in):
            return False
        return self.in_ is None or bool(present.intersection(self.in_))


class TenantSubjects(StrictModel):
    """Who a tenant-scoped rule matches; kinds AND-combined, bare names (no `user:` prefix)."""

    users: InNotInFilter | None = Field(default=None, description="User emails, e.g. alice@example.com.")
    teams: InNotInFilter | None = Field(default=None, description="Team names, e.g. backend.")
    virtual_accounts: InNotInFilter | None = Field(default=None, description="Virtual-account names.")


class TeamSubjects(StrictModel):
    """Who a team-scoped rule matches: users or virtual accounts of the owning team."""

    users: InNotInFilter | None = Field(default=None, description="User emails, e.g. alice@example.com.")
    virtual_accounts: InNotInFilter | None = Field(default=None, description="Virtual-account names.")


SubjectFilters = TenantSubjects | TeamSubjects
