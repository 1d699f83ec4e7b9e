"""Control-plane views of rate limits and budgets: who is charged what, and what a request would meet.

- `GET /api/svc/v1/llm-gateway/config/budget/usage` and `.../config/rate-limit/usage` (admin PAT;
  `?rule=<id>` narrows to one rule): `{"matched": [...]}`, each applied rule with every entity counted
  in its current window, in the shape of the platform's budget usage (`BudgetUsageEntry`).
- `limits_for(...)`: the `limits` section of `POST .../explain`: which rules would apply to a request,
  why the others do not, and each counter's headroom, holding nothing.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.accounting.cost import ModelPricing
from tfy_gateway.gateway.control_plane.http import json_response, require_admin, text_param
from tfy_gateway.gateway.data_plane.limiting import costliest
from tfy_gateway.gateway.data_plane.runtime import DataPlane, data_plane_of
from tfy_gateway.gateway.limits import LimitRequest
from tfy_gateway.gateway.limits.report import explain_limits, usage
from tfy_gateway.gateway.routing import RouteRequest

SVC = "/api/svc/v1/llm-gateway"


def simulated_pricing(
    plane: DataPlane, model: str, subjects: tuple[str, ...], metadata: Mapping[str, str]
) -> ModelPricing:
    """How a request from `subjects` for `model` would be priced (its costliest routing target), found
    with a random stream of its own and no sticky pin: simulating never moves the router's state."""
    config = plane.config.current
    route = RouteRequest(model, subjects, metadata, {})
    plan = plane.router.build_plan(config.routing, route, random.Random(0), pin=False)
    return costliest(plan, config.catalog)


async def limits_for(
    plane: DataPlane, subject: str, subjects: tuple[str, ...], model: str, metadata: Mapping[str, str], body: Any
) -> dict[str, Any]:
    """What the rate-limit and budget rules would do with a chat request from `subject` for `model`
    (`body`: the request body to estimate tokens from; a short chat without max_tokens by default)."""
    config = plane.config.current
    if not isinstance(body, dict):
        body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    request = LimitRequest(
        model=model,
        caller=subject,
        subjects=subjects,
        metadata=dict(metadata),
        body=body,
        generates="input" not in body or "messages" in body,
        pricing=simulated_pricing(plane, model, subjects, metadata),
    )
    return await explain_limits(plane.require_limiter(), config.limits, request)


async def budget_usage(request: Request) -> Response:
    plane = data_plane_of(request)
    require_admin(request)
    rule = text_param(request, "rule")
    matched = await usage(plane.require_limiter(), plane.config.current.limits, kind="budget", rule_id=rule)
    return json_response({"matched": matched})


async def rate_limit_usage(request: Request) -> Response:
    plane = data_plane_of(request)
    require_admin(request)
    rule = text_param(request, "rule")
    matched = await usage(plane.require_limiter(), plane.config.current.limits, kind="rate_limit", rule_id=rule)
    return json_response({"matched": matched})


routes = [
    Route(f"{SVC}/config/budget/usage", budget_usage, methods=["GET"]),
    Route(f"{SVC}/config/rate-limit/usage", rate_limit_usage, methods=["GET"]),
]
