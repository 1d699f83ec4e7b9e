"""Does an applied guardrail intent hold? One crafted request that the guardrail must catch.

The request carries what the guardrail looks for (`guardrail_samples.py`); from what the gateway
answers (status, message, x-tfy-applied-configurations):
- block: a 400 whose message names `<group>/<name>` holds;
- redact: a 200 whose applied guardrails list it under `mutated` holds;
- audit: a 200 whose applied guardrails list it under `flagged` holds.
An output check whose model did not repeat the sample proves nothing: unverified. A guardrail that
did not run on the request does not hold (the caller is one the rule applies to: `verify_caller`).
"""

from __future__ import annotations

from typing import Any

from tfy_gateway.intents.guardrail import GuardrailIntent, reference
from tfy_gateway.mcp.guardrail_samples import sample_text
from tfy_gateway.mcp.verify import Sender, Verdict, Verification
from tfy_gateway.platform import SmokeOutcome


def _guardrails(outcome: SmokeOutcome) -> dict[str, Any]:
    applied = outcome.applied_configurations
    found = applied.get("guardrails") if isinstance(applied, dict) else None
    return found if isinstance(found, dict) else {}


async def verify_guardrail(sender: Sender, intent: GuardrailIntent) -> tuple[Verification, SmokeOutcome]:
    ref = reference(intent)
    sample = sample_text(intent)
    expected: dict[str, Any] = {"guardrail": ref, "stage": intent.stage, "action": intent.action, "sample": sample}
    outcome = await sender.send()
    applied = _guardrails(outcome)
    observed: dict[str, Any] = {"status": outcome.status, "guardrails": applied}
    if outcome.error:
        observed["error"] = outcome.error
    verdict, summary = _judge(intent, ref, sample, outcome, applied)
    return Verification(
        kind="guardrail",
        verdict=verdict,
        summary=summary,
        requests_sent=sender.sent,
        expected=expected,
        observed=observed,
        spend=sender.spend,
    ), outcome


def _judge(
    intent: GuardrailIntent, ref: str, sample: str | None, outcome: SmokeOutcome, applied: dict[str, Any]
) -> tuple[Verdict, str]:
    ran = ref in (applied.get("input") or []) or ref in (applied.get("output") or [])
    stage = "answer" if intent.stage == "output" else "prompt"
    if sample is None:
        if ran:
            return "unverified", f"{ref} ran on the request (give test_text to check what it catches)"
        return "does_not_hold", f"{ref} did not run on the request (status {outcome.status})"
    action = intent.action or "block"
    if action == "block" and outcome.status == 400 and ref in (outcome.error or ""):
        return "holds", f"{ref} blocked the crafted {stage} with 400 guardrail_checks_failed"
    if action == "redact" and outcome.ok and ref in (applied.get("mutated") or []):
        return "holds", f"{ref} redacted the crafted {stage}; the request went on"
    if action == "audit" and outcome.ok and ref in (applied.get("flagged") or []):
        return "holds", f"{ref} flagged the crafted {stage} in audit mode and let it through (see the request log)"
    if intent.stage == "output" and outcome.ok and sample not in (outcome.output_preview or ""):
        return "unverified", "the model did not repeat the sample, so the answer had nothing for the guardrail to catch"
    if not ran and outcome.ok:
        return "does_not_hold", (
            f"{ref} did not run on the request: the API key's caller may not be among the rule's subjects, "
            "or the rule is not live (apply the plan first)"
        )
    return "does_not_hold", f"expected {ref} to {action} the crafted {stage}; got status {outcome.status}"
