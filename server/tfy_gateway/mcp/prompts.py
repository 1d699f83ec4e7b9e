"""Prompts for the common workflows; each spells out the tool sequence with its safety steps."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

WORKFLOW = (
    "Steps: 1) gateway_status; 2) gateway_check_intent with what you know and ask the user each "
    "next_question (one at a time, recommended option first) until complete; 3) gateway_render_manifest "
    "(it keeps the other live rules) and show the YAML; 4) gateway_plan and show the diff; 5) only after "
    "the user approves the diff, gateway_apply_plan with the plan_id; 6) gateway_smoke_test with "
    "verify=<the intent> to check that it holds."
)


def add_route(
    model: Annotated[str, Field(description="Model name clients request, e.g. 'openai/gpt-4o'.")],
    goal: Annotated[str, Field(description="What should happen, e.g. 'send 30% to azure-backup/gpt-4o'.")] = "",
) -> str:
    """Route a model name to one or more provider models (weighted split, latency or priority fallback)."""
    return (
        f"Add a routing rule for requests to '{model}'. {goal}\n"
        "Use a `route` intent (targets are '<provider-account>/<model>' ids from gateway_list_models).\n" + WORKFLOW
    )


def add_rate_limit(
    who: Annotated[str, Field(description="Subjects, e.g. 'team:backend' or 'user:bob@example.com'.")],
    limit: Annotated[str, Field(description="e.g. '20000 tokens per minute'.")],
    models: Annotated[str, Field(description="Models covered; empty for all.")] = "",
) -> str:
    """Limit requests or tokens per minute/hour/day for a team, user or virtual account."""
    scope = f" on {models}" if models else " on all models"
    return f"Add a rate limit for {who}: {limit}{scope}. Use a `rate_limit` intent.\n" + WORKFLOW


def cap_spend(
    who: Annotated[str, Field(description="Subjects, e.g. '*' with per-user budgets, or 'team:ml'.")],
    amount: Annotated[str, Field(description="e.g. '$100 per day'.")],
) -> str:
    """Cap spend (USD) per day/week/month/quarter, optionally with alert emails."""
    return (
        f"Cap spend for {who} at {amount}. Use a `budget` intent; ask whether the budget is shared or per "
        "user if unclear, and whether alerts are wanted.\n" + WORKFLOW
    )


def onboard_provider(
    provider: Annotated[str, Field(description="openai, anthropic, azure-openai, groq, self-hosted-model, ...")],
) -> str:
    """Register a provider account and its models, with the API key as a secret reference."""
    return (
        f"Onboard a {provider} provider account. Use a `provider_account` intent. The API key must be a "
        "secret reference (tfy-secret://<tenant>:<group>:<key>); never ask for or write a raw key.\n"
        + WORKFLOW
        + " Smoke-test one of the new models ('<account>/<model>')."
    )


def register(server: MCPServer) -> None:
    server.prompt(title="Add a route")(add_route)
    server.prompt(title="Add a rate limit")(add_rate_limit)
    server.prompt(title="Cap spend with a budget")(cap_spend)
    server.prompt(title="Onboard a provider")(onboard_provider)
