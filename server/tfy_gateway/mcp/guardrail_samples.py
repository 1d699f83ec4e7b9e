"""What a guardrail intent must catch, as a prompt verification can send.

The request carries the intent's `test_text`, or a sample of what the guardrail looks for: a valid card
number for CreditCardNumber, an AWS key for secrets, `DROP TABLE` for SQL, ... On the output stage
the model is asked to repeat it. A custom guardrail decides for itself: without `test_text` nothing can
be crafted, and the verification only shows that it ran.
"""

from __future__ import annotations

from tfy_gateway.intents.guardrail import GuardrailIntent

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


def crafted_prompt(intent: GuardrailIntent) -> str | None:
    """The prompt that carries the sample (None: there is none to craft)."""
    sample = sample_text(intent)
    if sample is None:
        return None
    if intent.stage == "output":
        return f"Repeat exactly, and nothing else: {sample}"
    return f"Please help with this. {sample}"
