"""Does an applied intent hold? Real requests through the data plane, compared with what was asked.

- route: N requests; the share each target answered (x-tfy-resolved-model) against the intended
  weights, within a stated tolerance (4 standard deviations of a binomial share over N requests:
  a correct split fails this about once in 15,000 runs per target);
- rate limit: requests until one is refused; holds when the 429 names the intent's rule (the local
  gateway puts it in x-tfy-applied-configurations) and no more than the limit was admitted;
- budget: one request; holds when x-tfy-applied-configurations names the intent's budget rule;
- guardrail: one crafted request it must block, redact or flag (verify_guardrail.py).
Requests go only as a caller the rule applies to (`verify_caller`), after the spend was stated
(`verify_spend`), and stop at the first refusal. `does_not_hold` means the rule was exercised and did
not do what the intent says; a rule no request reached is `unverified`, with the reason.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from tfy_gateway.intents import BudgetIntent, Intent, RateLimitIntent, RouteIntent
from tfy_gateway.intents.budget import budget_rule_id, budget_version
from tfy_gateway.intents.rate_limit import rate_limit_rule_id, rate_limit_version
from tfy_gateway.mcp.verify_spend import SpendPlan
from tfy_gateway.platform import ControlPlaneSettings, SmokeOutcome, smoke_test

Verdict = Literal["holds", "does_not_hold", "unverified"]
CONCURRENCY = 8
SIGMAS = 4.0
REFUSALS = frozenset({401, 403, 404, 429})  # the gateway said no before any rule under test could act


class Verification(BaseModel):
    kind: Literal["route", "rate_limit", "budget", "guardrail"]
    verdict: Verdict = Field(
        description="holds; does_not_hold (the rule was exercised and did not do what the intent says); or "
        "unverified (not exercised or not observable: the summary says why, and what would verify it)."
    )
    summary: str = Field(description="One sentence for the user.")
    requests_sent: int
    expected: dict[str, Any]
    observed: dict[str, Any]
    tolerance: str | None = Field(default=None, description="How far an observed share may be from the intended.")
    spend: SpendPlan | None = Field(
        default=None, description="What the verification sends (or would send, before confirm=true), and as whom."
    )


class Sender:
    """Sends small requests as one caller with fixed options; counts them."""

    def __init__(
        self, settings: ControlPlaneSettings, model: str, spend: SpendPlan, metadata: dict[str, str] | None
    ) -> None:
        self.settings, self.model, self.spend, self.metadata = settings, model, spend, metadata
        self.sent = 0

    async def send(self) -> SmokeOutcome:
        self.sent += 1
        return await smoke_test(
            self.settings,
            model=self.model,
            prompt=self.spend.prompt,
            max_tokens=self.spend.max_tokens,
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


def limit_rule_id(intent: RateLimitIntent | BudgetIntent) -> str:
    """The rule id the gateway reports for the intent: V1 its rule's id, V2 the config's name."""
    if isinstance(intent, RateLimitIntent):
        rule_id, version = rate_limit_rule_id(intent), rate_limit_version(intent)
    else:
        rule_id, version = budget_rule_id(intent), budget_version(intent)
    return (intent.config_name or rule_id) if version == "v2" else rule_id


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


Kind = Literal["route", "rate_limit", "budget", "guardrail"]


def _result(kind: Kind, verdict: Verdict, summary: str, sender: Sender, expected: dict[str, Any],
            observed: dict[str, Any], tolerance: str | None = None) -> Verification:  # fmt: skip
    return Verification(
        kind=kind, verdict=verdict, summary=summary, requests_sent=sender.sent, expected=expected,
        observed=observed, tolerance=tolerance, spend=sender.spend,
    )  # fmt: skip


async def _until_refused(sender: Sender, count: int) -> list[SmokeOutcome]:
    """Up to `count` requests, CONCURRENCY at a time, none started after the first refusal."""
    outcomes: list[SmokeOutcome] = []
    while len(outcomes) < count:
        batch = min(CONCURRENCY, count - len(outcomes))
        outcomes += await asyncio.gather(*(sender.send() for _ in range(batch)))
        if any(o.status in REFUSALS for o in outcomes):
            break
    return outcomes


async def verify_route(sender: Sender, intent: RouteIntent, requests: int) -> tuple[Verification, SmokeOutcome]:
    outcomes = await _until_refused(sender, requests)
    expected: dict[str, Any] = {"model": intent.model, "shares": intended_weights(intent)}
    refused = next((o for o in outcomes if o.status in REFUSALS), None)
    if refused is not None:
        summary = (
            f"request {outcomes.index(refused) + 1} was refused with {refused.status} ({refused.error}) before the "
            "route could be measured; nothing more was sent"
        )
        refusal: dict[str, Any] = {"refused": refused.status, "error": refused.error}
        return _result("route", "unverified", summary, sender, expected, refusal), refused
    sent = len(outcomes)
    answered = Counter(o.resolved_model or "none" for o in outcomes if o.ok)
    failed = Counter(str(o.status) for o in outcomes if not o.ok)
    rules = Counter(str((_applied(o, "load_balancing") or {}).get("rule_id")) for o in outcomes)
    fallbacks = sum(int(_applied(o, "fallbacks") or 0) for o in outcomes)
    shares = {target: round(100 * count / sent, 1) for target, count in answered.items()}
    observed: dict[str, Any] = {"shares": shares, "rules": dict(rules), "fallbacks": fallbacks}
    if failed:
        observed["failed"] = dict(failed)
        observed["errors"] = sorted({o.error for o in outcomes if not o.ok and o.error})[:3]
    weights = expected["shares"]
    if intent.rule_id and intent.rule_id not in rules:
        summary = f"no request matched rule '{intent.rule_id}' (rules seen: {dict(rules)}), so it was not exercised"
        return _result("route", "unverified", summary, sender, expected, observed), outcomes[-1]
    if weights is None:
        summary = f"latency routing has no fixed split; observed {shares} over {sent} requests"
        verdict: Verdict = "unverified" if not failed else "does_not_hold"
        return _result("route", verdict, summary, sender, expected, observed), outcomes[-1]
    bounds = {target: tolerance_pp(share, sent) for target, share in weights.items()}
    off = {t: shares.get(t, 0.0) for t, share in weights.items() if abs(shares.get(t, 0.0) - share) > bounds[t]}
    strays = {target: share for target, share in shares.items() if target not in weights}
    holds = not failed and not off and not strays
    if holds:
        summary = f"the split holds: {shares} over {sent} requests (intended {weights})"
    else:
        problems = []
        if failed:
            problems.append(f"{sum(failed.values())} request(s) failed ({dict(failed)})")
        if off:
            problems.append("outside the tolerance: " + ", ".join(f"{t} {s}%" for t, s in off.items()))
        if strays:
            problems.append(f"answered by targets the intent does not name: {strays}")
        summary = f"the split does not hold over {sent} requests: " + "; ".join(problems)
    tolerance = ", ".join(f"{t} {weights[t]:g}% ± {b:g} pp" for t, b in bounds.items())
    tolerance += f" ({SIGMAS:g} standard deviations of a binomial share over {sent} requests)"
    verdict = "holds" if holds else "does_not_hold"
    return _result("route", verdict, summary, sender, expected, observed, tolerance), outcomes[-1]


async def verify_rate_limit(sender: Sender, intent: RateLimitIntent) -> tuple[Verification, SmokeOutcome]:
    rule_id = limit_rule_id(intent)
    limit = intent.limit or 0
    tokens = (intent.unit or "").startswith("tokens")
    expected = {"rule_id": rule_id, "limit": limit, "unit": intent.unit}
    admitted = admitted_tokens = 0
    admitted_by: Counter[str] = Counter()
    last: SmokeOutcome | None = None
    for _ in range(sender.spend.requests):
        last = await sender.send()
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
            ours = admitted_by.get(rule_id, 0)
            if rule == rule_id and (tokens or ours <= limit):
                what = f"{admitted_tokens} token(s) in {admitted} request(s)" if tokens else f"{admitted} request(s)"
                summary = f"request {sender.sent} got 429 from rule '{rule_id}' after {what} were admitted"
                return _result("rate_limit", "holds", summary, sender, expected, observed), last
            if not tokens and ours > limit:
                summary = f"rule '{rule_id}' admitted {ours} requests, more than its limit of {limit}"
                return _result("rate_limit", "does_not_hold", summary, sender, expected, observed), last
            summary = (
                f"request {sender.sent} got 429 from rule '{rule}' before rule '{rule_id}' reached its limit, so "
                f"'{rule_id}' was not exercised up to its limit"
            )
            return _result("rate_limit", "unverified", summary, sender, expected, observed), last
        if not last.ok:
            observed = {"admitted": admitted, "status": last.status, "error": last.error}
            summary = f"request {sender.sent} failed with {last.status} before the limit was reached: {last.error}"
            return _result("rate_limit", "unverified", summary, sender, expected, observed), last
        admitted += 1
        admitted_tokens += (last.usage.total_tokens or 0) if last.usage else 0
        admitted_by[str(rule)] += 1
    assert last is not None
    observed = {"admitted": admitted, "admitted_tokens": admitted_tokens, "admitted_by": dict(admitted_by)}
    if not tokens and admitted_by.get(rule_id, 0) > limit:
        summary = f"rule '{rule_id}' admitted {admitted_by[rule_id]} requests, more than its limit of {limit}"
        return _result("rate_limit", "does_not_hold", summary, sender, expected, observed), last
    if admitted_by.get(rule_id):
        summary = (
            f"rule '{rule_id}' counted {admitted_by[rule_id]} of {sender.sent} requests but no 429 came within the "
            f"{sender.spend.requests} stated (the window may have slid, or other traffic shares it)"
        )
    else:
        seen = ", ".join(f"'{r}'" for r in admitted_by if r != "None") or "none"
        summary = (
            f"no request was counted by rule '{rule_id}' (rules seen: {seen}): another rule matches this caller "
            "first, or the rule is not live"
        )
    return _result("rate_limit", "unverified", summary, sender, expected, observed), last


async def verify_budget(
    sender: Sender, intent: BudgetIntent, live_rules: set[str]
) -> tuple[Verification, SmokeOutcome]:
    rule_id = limit_rule_id(intent)
    outcome = await sender.send()
    applied = outcome.applied_configurations if isinstance(outcome.applied_configurations, dict) else {}
    reported = [key for key in applied if "budget" in key]
    rules = [rule for key in reported for rule in _rule_ids(applied[key])]
    live = rule_id in live_rules
    observed: dict[str, Any] = {"status": outcome.status, "budget_rules": rules, "rule_is_live": live}
    expected = {"rule_id": rule_id, "limit": intent.limit, "unit": intent.unit}
    verdict: Verdict = "unverified"
    if rule_id in rules:
        verdict, summary = "holds", f"budget rule '{rule_id}' applied to the request (status {outcome.status})"
    elif reported:
        summary = f"the request was charged to budget rule(s) {rules or 'none'}, not '{rule_id}': it was not exercised"
    elif not outcome.ok:
        summary = f"the request failed with {outcome.status} ({outcome.error}) before any budget applied"
    else:
        summary = (
            "the gateway did not report budget rules in x-tfy-applied-configurations, so which budget the "
            f"request counted against cannot be observed; rule '{rule_id}' is "
            + ("live" if live else "NOT live (apply the plan first)")
        )
    return _result("budget", verdict, summary, sender, expected, observed), outcome


async def verify(
    sender: Sender, intent: Intent, *, live_budgets: set[str] | None = None
) -> tuple[Verification, SmokeOutcome]:
    """Dispatch on the intent kind; the number of requests is the stated spend's."""
    if isinstance(intent, RouteIntent):
        return await verify_route(sender, intent, sender.spend.requests)
    if isinstance(intent, RateLimitIntent):
        return await verify_rate_limit(sender, intent)
    if isinstance(intent, BudgetIntent):
        return await verify_budget(sender, intent, live_budgets or set())
    raise ValueError(f"{intent.kind} intents cannot be verified with requests; use gateway_status/list_models")


def unverified(kind: Kind, summary: str, expected: Mapping[str, Any],
               spend: SpendPlan | None = None) -> Verification:  # fmt: skip
    """A verification that sent nothing: no caller, the spend is not confirmed, or it could not reach the rule."""
    return Verification(
        kind=kind, verdict="unverified", summary=summary, requests_sent=0, expected=dict(expected), observed={},
        spend=spend,
    )  # fmt: skip
