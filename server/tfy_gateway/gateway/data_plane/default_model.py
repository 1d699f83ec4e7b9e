"""The model of a request that names none, where OpenAI's API has a default (`/moderations`: OpenAI
picks its latest moderation model). The gateway has no model of its own, so it takes the first model
of that type the caller may use, in manifest order, and says so when there is none."""

from __future__ import annotations

from tfy_gateway.gateway.access import ModelAccess
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.data_plane.failures import bad_request


def default_model(access: ModelAccess, principal: Principal, model_type: str, path: str) -> str:
    """The first model of `model_type` visible to `principal`, else a 400 naming `model`."""
    for entry in access.visible(principal):
        if model_type in entry.model_types:
            return entry.id
    raise bad_request(
        f"'model' is required for /{path}: no model with model_types [{model_type}] is available to this "
        "token to use by default (GET /api/llm/models lists yours).",
        "model",
        code="missing_required_parameter",
    )
