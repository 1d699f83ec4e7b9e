"""tfy-pii: each detectable category found by its written form and check digit, nothing else."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.guardrails import checksums
from tfy_gateway.gateway.guardrails.pii import DETECTORS, PiiScanner

EVERYTHING = PiiScanner(["*"])


def found(text: str, scanner: PiiScanner = EVERYTHING) -> list[tuple[str, str]]:
    return [(f.label, text[f.start : f.end]) for f in scanner.findings(text)]


@pytest.mark.parametrize(
    ("category", "sample"),
    [
        ("Email", "jane.doe+work@mail.example.co.uk"),
        ("PhoneNumber", "+1 (415) 555-0100"),
        ("PhoneNumber", "020 7946 0958"),
        ("CreditCardNumber", "4111 1111 1111 1111"),
        ("CreditCardNumber", "5555-5555-5555-4444"),
        ("CreditCardNumber", "378282246310005"),
        ("USSocialSecurityNumber", "123-45-6789"),
        ("USIndividualTaxpayerIdentification", "912-70-1234"),
        ("ABARoutingNumber", "011000015"),
        ("InternationalBankingAccountNumber", "GB82 WEST 1234 5698 7654 32"),
        ("InternationalBankingAccountNumber", "DE89370400440532013000"),
        ("IPAddress", "192.168.10.20"),
        ("IPAddress", "2001:db8::1"),
        ("URL", "https://example.com/a?b=1"),
        ("UKNationalInsuranceNumber", "AB 12 34 56 C"),
        ("UKNationalHealthNumber", "943 476 5919"),
        ("CASocialInsuranceNumber", "130 692 544"),
        ("INPermanentAccountNumber", "ABCPE1234F"),
        ("INUniqueIdentificationNumber", "2345 6789 0124"),
        ("BRCPFNumber", "111.444.777-35"),
        ("ESDNI", "12345678Z"),
    ],
)
def test_each_category_is_found_in_a_sentence(category: str, sample: str) -> None:
    assert found(f"please use {sample} for this.") == [(category, sample)]
    assert found(f"please use {sample} for this.", PiiScanner([category])) == [(category, sample)]


@pytest.mark.parametrize(
    ("category", "text"),
    [
        ("*", "card 4111 1111 1111 1112"),  # Luhn fails
        ("*", "ssn 666-12-3456 or 000-12-3456 or 123-00-4567"),  # never issued
        ("*", "iban GB82 WEST 1234 5698 7654 33"),  # mod 97 fails
        ("*", "ip 999.1.1.1"),
        ("*", "order 12345 shipped on 2024-01-02, version 1.2.3, at 10:30:00"),
        ("*", "dni 12345678A"),  # wrong letter
        ("INUniqueIdentificationNumber", "aadhaar 2345 6789 0123"),  # Verhoeff fails (`*`: a phone number)
    ],
)
def test_numbers_whose_check_fails_are_not_findings(category: str, text: str) -> None:
    assert found(text, PiiScanner([category])) == []


def test_only_the_selected_categories_are_reported() -> None:
    text = "mail bob@example.com, card 4111 1111 1111 1111, call +1 (415) 555-0100"
    assert found(text, PiiScanner(["Email", "CreditCardNumber"])) == [
        ("Email", "bob@example.com"),
        ("CreditCardNumber", "4111 1111 1111 1111"),
    ]
    assert PiiScanner(["*"]).categories == frozenset(DETECTORS)
    assert PiiScanner(["Person", "Email"]).categories == frozenset({"Email"})  # the gateway refuses Person at apply


def test_redaction_names_the_category_and_keeps_the_rest() -> None:
    scanner = PiiScanner(["Email", "CreditCardNumber"])
    text = "mail bob@example.com card 4111 1111 1111 1111 thanks"
    assert scanner.redact(text) == "mail [REDACTED:Email] card [REDACTED:CreditCardNumber] thanks"
    assert scanner.redact("nothing here 42") == "nothing here 42"


def test_a_rejected_number_is_not_reread_from_its_middle() -> None:
    # An invalid 16-digit card must not turn into a phone number or an Aadhaar from its last digits.
    assert found("card 4111 1111 1111 1112 please") == []


@pytest.mark.parametrize(
    ("check", "valid", "invalid"),
    [
        (checksums.luhn, "79927398713", "79927398710"),
        (checksums.aba_routing, "011000015", "011000016"),
        (checksums.iban, "GB82WEST12345698765432", "GB82WEST12345698765431"),
        (checksums.aadhaar, "234567890124", "234567890123"),
        (checksums.uk_nhs, "9434765919", "9434765918"),
        (checksums.br_cpf, "11144477735", "11144477734"),
        (checksums.ca_sin, "130692544", "130692545"),
    ],
)
def test_checksums(check: object, valid: str, invalid: str) -> None:
    assert callable(check)
    assert check(valid) and not check(invalid)
