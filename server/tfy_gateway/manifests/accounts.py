"""Identities configured by manifest: `team` and `virtual-account`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tfy_gateway.manifests.common import NotificationTarget, StrictModel
from tfy_gateway.manifests.names import AccountName, EmailAddress
from tfy_gateway.manifests.numbers import MAX_DAYS


class TeamOwnedBy(StrictModel):
    account: str


class Team(StrictModel):
    name: AccountName
    type: Literal["team"]
    displayName: str | None = None
    description: str | None = None
    managers: list[EmailAddress] | None = None
    members: list[EmailAddress] = Field(description="Emails of the team's users; [] for none yet.")
    ownedBy: TeamOwnedBy | None = None
    tags: dict[str, Any] | None = None
    identity_provider_mapping: list[dict[str, Any]] | None = None


class Permission(StrictModel):
    """A grant: for models, resource_type `model` and resource_fqn `<account>/<integration>`."""

    resource_fqn: str
    resource_type: str
    role_id: str


class AutoRotate(StrictModel):
    auto_rotate_interval: int = Field(default=360, ge=30, le=MAX_DAYS, description="Days.")
    grace_period: int = Field(default=30, ge=1, le=MAX_DAYS, description="Days.")


class VirtualAccountOwnedBy(StrictModel):
    account: str
    team: str | None = None


class VirtualAccount(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,34}[a-z0-9]$", description="3-36 lowercase letters, digits, '-'.")
    type: Literal["virtual-account"]
    permissions: list[Permission] | None = None
    expiration_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    auto_rotate: AutoRotate | None = None
    notification_target: NotificationTarget | None = None
    secret_store_config: dict[str, Any] | None = None
    ownedBy: VirtualAccountOwnedBy | None = None
    tags: dict[str, Any] | None = None
    identity_provider_mapping: list[dict[str, Any]] | None = None
    token_type: Literal["jwt", "opaque"] | None = None
