"""Virtual-account intent: a machine identity (VAT token) granted access to some models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tfy_gateway.intents.base import Findings, check_models

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,34}[a-z0-9]$")
# How a model grant is written in `permissions` (the model's catalog id is the resource FQN).
MODEL_RESOURCE_TYPE = "model"
MODEL_ROLE_ID = "provider-account-access"


class VirtualAccountIntent(BaseModel):
    """Create the virtual account `name` (or add grants to it) with access to `models`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["virtual_account"] = "virtual_account"
    name: str | None = Field(default=None, description="3-36 lowercase letters, digits or '-'.")
    models: list[str] | None = Field(default=None, description="Catalog model ids the account may call.")


def check_virtual_account(intent: VirtualAccountIntent, findings: Findings, catalog: Sequence[str] | None) -> None:
    if not intent.name:
        findings.ask("name", "missing", "What should the virtual account be called (e.g. 'ci-bot')?", ["ci-bot"])
    elif not NAME_PATTERN.match(intent.name):
        fixed = re.sub(r"[^a-z0-9-]+", "-", intent.name.lower()).strip("-")[:36] or "service-bot"
        findings.ask(
            "name",
            "invalid",
            f"Names are 3-36 lowercase letters, digits or '-': use '{fixed}'?",
            [fixed],
            fixed,
        )
    if not intent.models:
        findings.ask(
            "models",
            "missing",
            "Which models may the account call? A new account can call nothing until models are granted.",
            sorted(catalog or [])[:10],
        )
    else:
        check_models(findings, "models", intent.models, catalog, allow_star=False)


def virtual_account_context(intent: VirtualAccountIntent) -> dict[str, Any]:
    return {
        "name": intent.name,
        "grants": [
            {"resource_fqn": model, "resource_type": MODEL_RESOURCE_TYPE, "role_id": MODEL_ROLE_ID}
            for model in intent.models or []
        ],
    }
