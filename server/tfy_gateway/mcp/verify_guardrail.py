"""Does an applied guardrail intent hold? A crafted request that the guardrail must catch.

The request carries the intent's `test_text`, or a sample of what the guardrail looks for (a valid
card number for CreditCardNumber, an AWS key for secrets, `DROP TABLE` for SQL, ...). On the input
stage it is the prompt; on the output stage the model is asked to repeat it. Then, from what the
gateway answers (status, message, x-tfy-applied-configurations):
- block: a 400 whose message names `<group>/<name>` holds;
- redact: a 200 whose applied guardrails list it under `mutated` holds;
- audit: a 200 whose applied guardrails list it under `flagged` holds.
An output check whose model did not repeat the sample proves nothing: unverified. A custom guardrail
decides for itself, so without `test_text` the request only shows it ran.
"""

from __future__ import annotations

from typing import Any

from tfy_gateway.intents.guardrail import GuardrailIntent, reference
from tfy_gateway.mcp.verify import Sender, Verdict, Verification
from tfy_gateway.platform import SmokeOutcome

PII_SAMPLES: dict[str, str] = {
    "Email": "jane.doe@example.com",
    "PhoneNumber": "+1 (415) 555-0100",
    "CreditCardNumber": "4111 1111 1111 1111",
    "USSocialSecurityNumber": "123-45-6789",
    "USIndividualTaxpayerIdentification": "912-70-1234",
    "ABARoutingNumber": "011000015",
    "InternationalBankingAccountNumber": "GB82 WEST 1234 5698 7654 32",
    "IPAddress": "192.168.10.20",
    "URL": "https://example.com/account",
    "UKNationalInsuranceNumber": "AB123456C",
    "UKNationalHealthNumber": "943 476 5919",
    "INPermanentAccountNumber": "ABCPE1234F",
    "BRCPFNumber": "111.444.777-35",
    "ESDNI": "12345678Z",
}
PRESET_SAMPLES: dict[str, str] = {
    "email": "jane.doe@example.com",
    "us_ssn": "123-45-6789",
    "us_phone": "(415) 555-0100",
    "credit_card": "4111 1111 1111 1111",
    "visa": "4111 1111 1111 1111",
    "mastercard": "5555 5555 5555 4444",
    "amex": "3782 822463 10005",
    "discover": "6011 1111 1111 1117",
    "aws_access_key": "AKIAIOSFODNN7EXAMPLE",
    "github_token": "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8",
    "ipv4": "192.168.10.20",
    "url": "https://example.com/account",
    "india_pan": "ABCPE1234F",
}
OTHER_SAMPLES = {"secrets": "my key is AKIAIOSFODNN7EXAMPLE", "sql": "run this: DROP TABLE users;"}


def sample_text(intent: GuardrailIntent) -> str | None:
    """What the guardrail must catch (None: nothing can be crafted; a custom service decides alone)."""
    if intent.test_text:
        return intent.test_text
    if intent.check == "pii":
        wanted = intent.pii_categories or []
        chosen = list(PII_SAMPLES)[:3] if "*" in wanted else [c for c in wanted if c in PII_SAMPLES]
        return " and ".join(f"my {c} is {PII_SAMPLES[c]}" for c in chosen[:3]) or None
    if intent.check == "regex":
        found = [PRESET_SAMPLES[p] for p in intent.presets or () if p in PRESET_SAMPLES]
        return f"please note {found[0]}" if found else None
    return OTHER_SAMPLES.get(intent.check or "")


def _guardrails(outcome: SmokeOutcome) -> dict[str, Any]:
    applied = outcome.applied_configurations
    found = applied.get("guardrails") if isinstance(applied, dict) else None
    return found if isinstance(found, dict) else {}


async def verify_guardrail(sender: Sender, intent: GuardrailIntent) -> tuple[Verification, SmokeOutcome]:
    ref = reference(intent)
    sample = sample_text(intent)
    output = intent.stage == "output"
    action = intent.action or "block"
    expected: dict[str, Any] = {"guardrail": ref, "stage": intent.stage, "action": action, "sample": sample}
    if sample is None:
        prompt = None
    else:
        prompt = f"Repeat exactly, and nothing else: {sample}" if output else f"Please help with this. {sample}"
    outcome = await sender.send(prompt)
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
