"""`--against URL`: a suite's cases sent to a running gateway instead of the simulator.

Each caller's token is read from the environment variable its `token_env` names (never from the
suite file, never printed). Outcomes are read from what the gateway answers: the status, the
`x-tfy-resolved-model` and `x-tfy-applied-configurations` headers (routing rule, the limit rules,
audit-mode `would_block`), `x-tfy-cost`, and the error body's `error_origin_level` (rate_limiting or
budget) for a 429. Real time cannot be moved: cases that advance time, space requests with `every`,
or script provider failures are skipped, and counters persist between cases (the live gateway's).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from tfy_gateway.gateway.applied import AppliedRule
from tfy_gateway.policy.clock import SimClock
from tfy_gateway.policy.runner import Sender, SenderFactory
from tfy_gateway.policy.suite import Case, Suite
from tfy_gateway.policy.traffic import SimOutcome, SimRequest

PATHS = {"chat": "chat/completions", "completions": "completions", "embeddings": "embeddings"}
ORIGINS = {"rate_limiting": "rate_limit", "budget": "budget"}
TIMEOUT_S = 60.0
ClientFactory = Callable[[], httpx.AsyncClient]


class LiveError(ValueError):
    """A live run cannot start: a caller without a token."""


class WallClock(SimClock):
    """Real time: it can be read, not moved."""

    def __init__(self) -> None:
        super().__init__(time.time())

    def __call__(self) -> float:
        self.now = time.time()
        return self.now

    def advance(self, seconds: float) -> None:
        raise LiveError("a live gateway's time cannot be moved")


def cannot_run_live(case: Case) -> str | None:
    """Why `case` cannot run against a live gateway, or None."""
    for step in case.all_steps():
        if step.advance is not None or step.spacing_s:
            return "moves simulated time"
        if step.failing:
            return "scripts provider failures"
    return None


def live(url: str, suite: Suite, *, client: ClientFactory | None = None) -> SenderFactory:
    """Senders to the gateway at `url` (`client`: makes the HTTP client, e.g. for an in-process gateway)."""
    tokens: dict[str, str] = {}
    for name, caller in suite.callers.items():
        token = os.environ.get(caller.token_env or "") if caller.token_env else None
        if token:
            tokens[caller.subject] = token
        elif any(_sends_as(case, name) for case in suite.cases if cannot_run_live(case) is None):
            raise LiveError(f"caller '{name}' needs `token_env` naming a set environment variable for --against")

    async def make(_: Suite) -> Sender:
        return LiveSender(url.rstrip("/"), tokens, client)

    return make


def _sends_as(case: Case, caller: str) -> bool:
    return any(step.send is not None and step.send.caller == caller for step in case.all_steps())


class LiveSender:
    def __init__(self, base_url: str, tokens: Mapping[str, str], client: ClientFactory | None = None) -> None:
        self.base_url = base_url
        self.tokens = dict(tokens)
        self.client = client or (lambda: httpx.AsyncClient(timeout=TIMEOUT_S))
        self.clock: SimClock = WallClock()

    def failing(self, targets: dict[str, int]) -> None:
        if targets:
            raise LiveError("a live gateway's providers cannot be told to fail")

    async def send(self, request: SimRequest) -> SimOutcome:
        token = self.tokens.get(request.caller)
        if token is None:
            raise LiveError(f"no token for {request.caller}: give its caller a token_env")
        headers = {"authorization": f"Bearer {token}", **request.headers}
        if request.metadata:
            headers["x-tfy-metadata"] = json.dumps(dict(request.metadata))
        path = PATHS.get(request.endpoint, "chat/completions")
        async with self.client() as client:
            response = await client.post(f"{self.base_url}/api/llm/{path}", json=dict(request.body), headers=headers)
        return outcome_of(response)


def outcome_of(response: httpx.Response) -> SimOutcome:
    """What a gateway answer says about the policies that acted on the request."""
    applied_header = _json(response.headers.get("x-tfy-applied-configurations"))
    routing = applied_header.get("load_balancing") or {}
    applied: list[AppliedRule] = []
    if isinstance(rate := applied_header.get("rate_limit"), dict):
        applied.append(AppliedRule("rate_limit", str(rate.get("config")), str(rate.get("rule_id"))))
    for budget in applied_header.get("budgets") or ():
        applied.append(AppliedRule("budget", str(budget.get("config")), str(budget.get("rule_id"))))
    blocked = tuple(
        AppliedRule(
            "budget" if b.get("kind") == "budget" else "rate_limit", str(b.get("config")), str(b.get("rule_id"))
        )
        for b in applied_header.get("would_block") or ()
    )
    cost = response.headers.get("x-tfy-cost")
    refused_by = refused_kind = None
    message = ""
    if response.status_code >= 400:
        body = _json(response.text)
        message = str(body.get("message") or "")
        kind = ORIGINS.get(str(body.get("error_origin_level")))
        if response.status_code == 429 and kind is not None:
            refused_kind = kind
            refused_by = next((a.rule_id for a in applied if a.kind == kind), None)
    usage = (_json(response.text).get("usage") or {}) if response.status_code < 400 else {}
    return SimOutcome(
        response.status_code,
        served_by=response.headers.get("x-tfy-resolved-model"),
        route_rule=routing.get("rule_id") or (routing.get("config") if routing.get("virtual_model") else None),
        refused_by=refused_by,
        refused_kind=refused_kind,
        applied=tuple(applied),
        would_block=blocked,
        tokens=int(usage.get("total_tokens") or 0),
        cost=float(cost) if cost else None,
        message=message,
    )


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
