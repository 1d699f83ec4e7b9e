"""Does an applied intent hold? Real requests through the data plane, compared with what was asked.

- route: N requests; the share each target answered (x-tfy-resolved-model) against the intended
  weights, within a stated tolerance (4 standard deviations of a binomial share over N requests:
  a correct split fails this about once in 15,000 runs per target);
- rate limit: requests until one is refused; holds when the 429 names the intent's rule (the local
  gateway puts it in x-tfy-applied-configurations) and no more than the limit was admitted;
- budget: one request; holds when x-tfy-applied-configurations names the intent's budget rule.
  A gateway that does not report budget rules gives "unverified", with whether the rule is live.
- guardrail: one crafted request (verify_guardrail.py).
Every request costs like any other (money with a real provider) and counts against limits and
budgets; a rate-limit check leaves the caller limited until the window slides.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from tfy_gateway.intents import BudgetIntent, Intent, RateLimitIntent, RouteIntent
from tfy_gateway.intents.budget import budget_rule_id
from tfy_gateway.intents.rate_limit import rate_limit_rule_id
from tfy_gateway.platform import ControlPlaneSettings, SmokeOutcome, smoke_test

Verdict = Literal["holds", "does_not_hold", "unverified"]
DEFAULT_ROUTE_REQUESTS = 100
DEFAULT_LIMIT_REQUESTS = 200
MAX_REQUESTS = 1000
CONCURRENCY = 8
TOKEN_PROMPT_CHARS = 4000  # ~1,000 estimated tokens a request, so token limits are reached in few requests
SIGMAS = 4.0


class Verification(BaseModel):
    kind: Literal["route", "rate_limit", "budget", "guardrail"]
    verdict: Verdict = Field(description="holds, does_not_hold, or unverified (the answer could not be observed).")
    summary: str = Field(description="One sentence for the user.")
    requests_sent: int
    expected: dict[str, Any]
    observed: dict[str, Any]
    tolerance: str | None = Field(default=None, description="How far an observed share may be from the intended.")


class Sender:
    """Sends smoke requests with fixed options; counts them."""

    def __init__(
        self, settings: ControlPlaneSettings, model: str, prompt: str, max_tokens: int, metadata: dict[str, str] | None
    ) -> None:
        self.settings, self.model, self.prompt = settings, model, prompt
        self.max_tokens, self.metadata = max_tokens, metadata
        self.sent = 0

    async def send(self, prompt: str | None = None) -> SmokeOutcome:
        self.sent += 1
        return await smoke_test(
            self.settings,
            model=self.model,
            prompt=prompt or self.prompt,
            max_tokens=self.max_tokens,
            metadata=self.metadata,
        )


def _applied(outcome: SmokeOutcome, key: str) -> Any:
    applied = outcome.applied_configurations
    return applied.get(key) if isinstance(applied, dict) else None


def _rule_ids(entry: Any) -> list[str]:
    """Rule ids in one applied-configurations entry: a dict with rule_id/rule_ids, or a list of them."""
    if isinstance(entry, list):
        return [rule for item in entry for rule in _rule_ids(item)]
    if not isinstance(entry, dict):
        return []
    found = [entry["rule_id"]] if isinstance(entry.get("rule_id"), str) else []
    rules = entry.get("rule_ids")
    return found + ([str(r) for r in rules] if isinstance(rules, list) else [])


def intended_weights(intent: RouteIntent) -> dict[str, float] | None:
    """Share per target in percent; None for latency routing (no fixed split to compare with)."""
    targets = intent.targets or []
    strategy = intent.strategy or (
        "priority"
        if any(t.priority is not None for t in targets) and all(t.weight is None for t in targets)
        else "weight"
    )
    if strategy == "latency" or not targets:
        return None
    if strategy == "priority":
        first = min(range(len(targets)), key=lambda i: (targets[i].priority or 0, i))
        return {t.target: 100.0 if i == first else 0.0 for i, t in enumerate(targets)}
    if len(targets) == 1:
        return {targets[0].target: 100.0}
    return {t.target: float(t.weight or 0) for t in targets}


def tolerance_pp(share: float, requests: int) -> float:
    """Allowed distance in percentage points for an intended `share` (percent) over `requests`."""
    p = share / 100
    return round(100 * SIGMAS * math.sqrt(p * (1 - p) / requests), 1)


async def verify_route(sender: Sender, intent: RouteIntent, requests: int) -> tuple[Verification, SmokeOutcome]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one() -> SmokeOutcome:
        async with limit:
            return await sender.send()

    outcomes = await asyncio.gather(*(one() for _ in range(requests)))
    answered = Counter(o.resolved_model or "none" for o in outcomes if o.ok)
    failed = Counter(str(o.status) for o in outcomes if not o.ok)
    rules = Counter(str((_applied(o, "load_balancing") or {}).get("rule_id")) for o in outcomes)
    fallbacks = sum(int(_applied(o, "fallbacks") or 0) for o in outcomes)
    shares = {target: round(100 * count / requests, 1) for target, count in answered.items()}
    observed: dict[str, Any] = {"shares": shares, "rules": dict(rules), "fallbacks": fallbacks}
    if failed:
        observed["failed"] = dict(failed)
        errors = sorted({o.error for o in outcomes if not o.ok and o.error})
        observed["errors"] = errors[:3]
    weights = intended_weights(intent)
    expected: dict[str, Any] = {"model": intent.model, "shares": weights}
    if weights is None:
        summary = f"latency routing has no fixed split; observed {shares} over {requests} requests"
        return Verification(
            kind="route",
            verdict="unverified" if not failed else "does_not_hold",
            summary=summary,
            requests_sent=requests,
            expected=expected,
            observed=observed,
        ), outcomes[-1]
    bounds = {target: tolerance_pp(share, requests) for target, share in weights.items()}
    off = {
        target: shares.get(target, 0.0)
        for target, share in weights.items()
        if abs(shares.get(target, 0.0) - share) > bounds[target]
    }
    strays = {target: share for target, share in shares.items() if target not in weights}
    holds = not failed and not off and not strays
    if holds:
        summary = f"the split holds: {shares} over {requests} requests (intended {weights})"
    else:
        problems = []
        if failed:
            problems.append(f"{sum(failed.values())} request(s) failed ({dict(failed)})")
        if off:
            problems.append("outside the tolerance: " + ", ".join(f"{t} {s}%" for t, s in off.items()))
        if strays:
            problems.append(f"answered by targets the intent does not name: {strays}")
        summary = f"the split does not hold over {requests} requests: " + "; ".join(problems)
    tolerance = ", ".join(f"{t} {weights[t]:g}% ± {b:g} pp" for t, b in bounds.items())
    return Verification(
        kind="route",
        verdict="holds" if holds else "does_not_hold",
        summary=summary,
        requests_sent=requests,
        expected=expected,
        observed=observed,
        tolerance=f"{tolerance} ({SIGMAS:g} standard deviations of a binomial share over {requests} requests)",
    ), outcomes[-1]


async def verify_rate_limit(
    sender: Sender, intent: RateLimitIntent, requests: int | None
) -> tuple[Verification, SmokeOutcome]:
    rule_id = rate_limit_rule_id(intent)
    limit = intent.limit or 0
    tokens = (intent.unit or "").startswith("tokens")
    cap = requests or (min(limit + 1, MAX_REQUESTS) if not tokens else DEFAULT_LIMIT_REQUESTS)
    prompt = ("Count these words. " * (TOKEN_PROMPT_CHARS // 19 + 1))[:TOKEN_PROMPT_CHARS] if tokens else None
    expected = {"rule_id": rule_id, "limit": limit, "unit": intent.unit}
    admitted = 0
    admitted_tokens = 0
    admitted_by: Counter[str] = Counter()
    last: SmokeOutcome | None = None
    for _ in range(cap):
        last = await sender.send(prompt)
        rule = (_applied(last, "rate_limit") or {}).get("rule_id")
        if last.status == 429:
            observed = {
                "admitted": admitted,
                "admitted_tokens": admitted_tokens,
                "refused_on_request": sender.sent,
                "refused_by": rule,
                "admitted_by": dict(admitted_by),
                "error": last.error,
            }
            over = not tokens and admitted > limit
            holds = rule == rule_id and not over
            if holds:
                what = (
                    f"{admitted} request(s)" if not tokens else f"{admitted_tokens} token(s) in {admitted} request(s)"
                )
                summary = f"request {sender.sent} got 429 from rule '{rule_id}' after {what} were admitted"
            elif rule != rule_id:
                summary = f"request {sender.sent} got 429 from rule '{rule}', not '{rule_id}'"
            else:
                summary = f"rule '{rule_id}' admitted {admitted} requests, more than its limit of {limit}"
            return _limit(holds, summary, sender.sent, expected, observed), last
        if last.ok:
            admitted += 1
            admitted_tokens += (last.usage.total_tokens or 0) if last.usage else 0
            admitted_by[str(rule)] += 1
        else:
            observed = {"admitted": admitted, "status": last.status, "error": last.error}
            summary = f"request {sender.sent} failed with {last.status} before the limit was reached: {last.error}"
            return _limit(False, summary, sender.sent, expected, observed), last
    assert last is not None
    observed = {"admitted": admitted, "admitted_tokens": admitted_tokens, "admitted_by": dict(admitted_by)}
    if admitted_by.get(rule_id):
        summary = (
            f"rule '{rule_id}' applied to {admitted_by[rule_id]} of {sender.sent} requests but no 429 came within "
            f"{cap} requests (pass a larger `requests` to go past the limit)"
        )
        return _limit(None, summary, sender.sent, expected, observed), last
    seen = ", ".join(f"'{r}'" for r in admitted_by if r != "None") or "none"
    summary = (
        f"no request was counted by rule '{rule_id}' (rules seen: {seen}): the API key's user may not be "
        "among the rule's subjects, or another rule matches first"
    )
    return _limit(False, summary, sender.sent, expected, observed), last


def _limit(
    holds: bool | None, summary: str, sent: int, expected: dict[str, Any], observed: dict[str, Any]
) -> Verification:
    verdict: Verdict = "unverified" if holds is None else "holds" if holds else "does_not_hold"
    return Verification(
        kind="rate_limit", verdict=verdict, summary=summary, requests_sent=sent, expected=expected, observed=observed
    )


async def verify_budget(
    sender: Sender, intent: BudgetIntent, live_budgets: Mapping[str, Any] | None
) -> tuple[Verification, SmokeOutcome]:
    rule_id = budget_rule_id(intent)
    outcome = await sender.send()
    applied = outcome.applied_configurations if isinstance(outcome.applied_configurations, dict) else {}
    reported = [key for key in applied if "budget" in key]
    rules = [rule for key in reported for rule in _rule_ids(applied[key])]
    live_rules = live_budgets.get("rules") if live_budgets else None
    live = any(isinstance(r, dict) and r.get("id") == rule_id for r in live_rules or [])
    observed: dict[str, Any] = {"status": outcome.status, "budget_rules": rules, "rule_is_live": live}
    expected = {"rule_id": rule_id, "limit": intent.limit, "unit": intent.unit}
    verdict: Verdict
    if rule_id in rules:
        verdict, summary = "holds", f"budget rule '{rule_id}' applied to the request (status {outcome.status})"
    elif reported:
        verdict = "does_not_hold"
        summary = f"the request was charged to budget rule(s) {rules or 'none'}, not '{rule_id}'"
    elif not outcome.ok:
        verdict, summary = "does_not_hold", f"the request failed with {outcome.status}: {outcome.error}"
    else:
        verdict = "unverified"
        summary = (
            "the gateway did not report budget rules in x-tfy-applied-configurations, so which budget the "
            f"request counted against cannot be observed; rule '{rule_id}' is "
            + ("live" if live else "NOT live (apply the plan first)")
        )
    return Verification(
        kind="budget", verdict=verdict, summary=summary, requests_sent=sender.sent, expected=expected, observed=observed
    ), outcome


async def verify(
    sender: Sender, intent: Intent, *, requests: int | None, live_budgets: Mapping[str, Any] | None
) -> tuple[Verification, SmokeOutcome]:
    """Dispatch on the intent kind (provider and virtual accounts have nothing to measure here)."""
    if isinstance(intent, RouteIntent):
        return await verify_route(sender, intent, requests or DEFAULT_ROUTE_REQUESTS)
    if isinstance(intent, RateLimitIntent):
        return await verify_rate_limit(sender, intent, requests)
    if isinstance(intent, BudgetIntent):
        return await verify_budget(sender, intent, live_budgets)
    raise ValueError(f"{intent.kind} intents cannot be verified with requests; use gateway_status/list_models")
