"""Building blocks shared by every manifest type: strict base model, `when` blocks, status codes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tfy_gateway.manifests.names import Label, MetadataKey


class StrictModel(BaseModel):
    """Unknown keys are errors: the platform would silently ignore a misspelt field."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, strict=True, defer_build=True, allow_inf_nan=False
    )


def _http_status(value: str) -> str:
    if not (len(value) == 3 and value.isdigit() and 100 <= int(value) <= 599):
        raise ValueError(f"'{value}' is not an HTTP status code (a string of three digits, 100..599)")
    return value


StatusCode = Annotated[str, AfterValidator(_http_status)]
"""HTTP status codes are strings in the platform's schema: "429", not 429."""

DEFAULT_RETRY_STATUS_CODES: tuple[str, ...] = ("429", "500", "502", "503")
DEFAULT_FALLBACK_STATUS_CODES: tuple[str, ...] = ("401", "403", "404", "429", "500", "502", "503")


class When(StrictModel):
    """Which requests a rule applies to: fields AND-combined, list entries OR-ed, `*` matches all."""

    subjects: list[str] | None = Field(
        default=None, description='Callers: "user:<email>", "team:<name>", "virtualaccount:<name>" or "*".'
    )
    models: list[str] | None = Field(default=None, description="Requested model names, or `*`.")
    metadata: dict[MetadataKey, str] | None = Field(
        default=None, description="Key/values that must all be present in the request's X-TFY-METADATA."
    )


class Email(StrictModel):
    type: Literal["email"]
    notification_channel: Label
    to_emails: list[str]


class SlackWebhook(StrictModel):
    type: Literal["slack-webhook"]
    notification_channel: Label


class SlackBot(StrictModel):
    type: Literal["slack-bot"]
    notification_channel: Label
    channels: list[str]


class PagerDuty(StrictModel):
    type: Literal["pagerduty"]
    notification_channel: Label


class MsTeamsWebhook(StrictModel):
    type: Literal["ms-teams-webhook"]
    notification_channel: Label


NotificationTarget = Annotated[
    Email | SlackWebhook | SlackBot | PagerDuty | MsTeamsWebhook, Field(discriminator="type")
]


class OwnedBy(StrictModel):
    account: str
    team: str | None = None


class Collaborator(StrictModel):
    subject: str = Field(description='"user:<email>", "team:<name>" or "virtualaccount:<name>".')
    role_id: str = Field(description="e.g. provider-account-manager, provider-account-access.")


GUARDRAIL_GROUP_TYPE = "provider-account/guardrail-config-group"
"""The type of a guardrail config group; here, not in guardrail_groups.py, so that code that only
recognises one does not load the guardrail models."""
