"""`tfy-pii`: the Azure PII categories that can be recognised offline, by pattern and check digit.

A candidate counts only when its checksum or format rules hold: a card number must pass Luhn (and
start like a card network's), an IBAN mod 97, an SSN the SSA's rules, an Aadhaar Verhoeff. Finding
candidates is built for long prompts: scanning prose character by character with a regular
expression costs about 20 ns a character in CPython, so the scanner first finds where digits,
`@`, `:` and URL prefixes are with C string methods (`translate`, `find`) and tries the patterns only
there. Categories that need a language model (Person, Organization, Address, ...) or have no
checkable form are not in `DETECTORS`: the gateway refuses them at apply (`support.py`), and `*`
means every category listed here. Validate mode fails on any finding; mutate mode replaces each with
`[REDACTED:<category>]`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator

from tfy_gateway.gateway.guardrails import checksums
from tfy_gateway.gateway.guardrails.finders import digit_runs, emails
from tfy_gateway.gateway.guardrails.scanning import Finding, Scanner

DETECTORS: tuple[str, ...] = (
    "Email",
    "PhoneNumber",
    "CreditCardNumber",
    "USSocialSecurityNumber",
    "USIndividualTaxpayerIdentification",
    "ABARoutingNumber",
    "InternationalBankingAccountNumber",
    "IPAddress",
    "URL",
    "UKNationalInsuranceNumber",
    "UKNationalHealthNumber",
    "CASocialInsuranceNumber",
    "INPermanentAccountNumber",
    "INUniqueIdentificationNumber",
    "BRCPFNumber",
    "ESDNI",
)
"""The categories `tfy-pii` detects locally (every other Azure category is refused at apply)."""

# Forms that start with a digit (or the + or ( of a phone number), tried where a digit run begins.
_NUMERIC = re.compile(
    r"""
    (?P<ipv4>(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?![0-9.]))
  | (?P<ssn>(?P<area>[0-9]{3})(?P<sep>[- ])(?P<group>[0-9]{2})(?P=sep)(?P<serial>[0-9]{4})(?![0-9]))
  | (?P<dni>(?P<dni_number>[0-9]{8})-?(?P<dni_letter>[A-Za-z])(?![A-Za-z0-9]))
  | (?P<number>\+?\(?[0-9](?:[0-9 \-.()]{5,24})[0-9](?![0-9]|\.[0-9]))
    """,
    re.VERBOSE,
)
# Forms whose letters come before the first digit: matched that many characters before it.
_LETTERED = (
    (2, "iban", re.compile(r"[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}(?![A-Za-z0-9])")),
    (2, "nino", re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D](?![A-Za-z0-9])")),
    (3, "nino", re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] [0-9]{2} [0-9]{2} [0-9]{2} [A-D](?![A-Za-z0-9])")),
    (5, "pan", re.compile(r"[A-Z]{3}[ABCFGHLJPT][A-Z][0-9]{4}[A-Z](?![A-Za-z0-9])")),
)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()]+")
_SEPARATORS = str.maketrans("", "", " -.()+")
_TRAILING = ".,;:!?"


def _word_char(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isalnum()


def _numbers(text: str) -> Iterator[Finding]:
    covered = 0
    for run in digit_runs(text):
        if run < covered:
            continue
        found, end = _at_run(text, run)
        covered = max(covered, end)
        if found is not None:
            yield found


def _at_run(text: str, run: int) -> tuple[Finding | None, int]:
    """The finding that contains the digit run starting at `run`, and where what was matched ends."""
    if run >= 2 and (text[run - 1].isupper() or (text[run - 1] == " " and text[run - 2].isupper())):
        found = _lettered_at(text, run)
        if found is not None:
            return found
    start = run
    while start > 0 and text[start - 1] in "+(" and run - start < 2:
        start -= 1
    if _word_char(text, start - 1) or text[start - 1 : start] == ".":
        return None, run + 1
    match = _NUMERIC.match(text, start)
    if match is None:
        return None, run + 1
    kind = match.lastgroup  # nested groups close inside their alternative: this names the alternative
    category = _CLASSIFY[kind](match) if kind else None
    return (Finding(category, start, match.end()) if category else None), match.end()


def _lettered_at(text: str, run: int) -> tuple[Finding | None, int] | None:
    for before, kind, pattern in _LETTERED:
        start = run - before
        if start >= 0 and not _word_char(text, start - 1):
            match = pattern.match(text, start)
            if match:
                category = _lettered(kind, match.group())
                return (Finding(category, start, match.end()) if category else None), match.end()
    return None


def _lettered(kind: str, text: str) -> str | None:
    if kind == "iban":
        return "InternationalBankingAccountNumber" if checksums.iban(text.replace(" ", "")) else None
    return "UKNationalInsuranceNumber" if kind == "nino" else "INPermanentAccountNumber"


def _number(match: re.Match[str]) -> str | None:
    """A run of digits with separators: a card, a national number, or a phone number."""
    text = match.group("number")
    digits = text.translate(_SEPARATORS)
    if checksums.credit_card(digits):
        return "CreditCardNumber"
    if checksums.aadhaar(digits) and re.fullmatch(r"[0-9]{4} ?[0-9]{4} ?[0-9]{4}", text):
        return "INUniqueIdentificationNumber"
    if re.fullmatch(r"[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}", text) and checksums.br_cpf(digits):
        return "BRCPFNumber"
    if re.fullmatch(r"[0-9]{3} [0-9]{3} [0-9]{4}", text) and checksums.uk_nhs(digits):
        return "UKNationalHealthNumber"
    if re.fullmatch(r"[0-9]{3}[- ][0-9]{3}[- ][0-9]{3}", text) and checksums.ca_sin(digits):
        return "CASocialInsuranceNumber"
    if text == digits and checksums.aba_routing(digits):
        return "ABARoutingNumber"
    return "PhoneNumber" if _phone(text, digits) else None


def _phone(text: str, digits: str) -> bool:
    """7-15 digits written the way phone numbers are: a leading +, a parenthesised area code, or
    groups separated by spaces, dashes or dots."""
    if not 7 <= len(digits) <= 15:
        return False
    if text.startswith("+") or "(" in text:
        return True
    groups = re.split(r"[ \-.]", text)
    return len(groups) >= 2 and all(group.isdigit() for group in groups) and len(groups[-1]) >= 3


def _ssn(match: re.Match[str]) -> str | None:
    area, group, serial = match.group("area"), match.group("group"), match.group("serial")
    if checksums.us_ssn(area, group, serial):
        return "USSocialSecurityNumber"
    return "USIndividualTaxpayerIdentification" if checksums.us_itin(area, group) else None


def _ipv4(match: re.Match[str]) -> str | None:
    return "IPAddress"


def _dni(match: re.Match[str]) -> str | None:
    return "ESDNI" if checksums.es_dni(match.group("dni_number"), match.group("dni_letter")) else None


_CLASSIFY: dict[str, Callable[[re.Match[str]], str | None]] = {
    "ipv4": _ipv4,
    "ssn": _ssn,
    "dni": _dni,
    "number": _number,
}


def _emails(text: str) -> Iterator[Finding]:
    return (Finding("Email", start, end) for start, end in emails(text))


def _urls(text: str) -> Iterator[Finding]:
    for prefix in ("http", "www."):
        position = text.find(prefix)
        while position != -1:
            match = _URL.match(text, position) if not _word_char(text, position - 1) else None
            if match:
                end = match.end()
                while end > position and text[end - 1] in _TRAILING:
                    end -= 1
                yield Finding("URL", position, end)
                position = text.find(prefix, end)
            else:
                position = text.find(prefix, position + 1)


def _ipv6(text: str) -> Iterator[Finding]:
    """Tokens with two or more colons that parse as an IPv6 address."""
    colon = text.find(":")
    while colon != -1:
        start = colon
        while start > 0 and (text[start - 1] == ":" or text[start - 1] in "0123456789abcdefABCDEF"):
            start -= 1
        end = colon
        while end < len(text) and (text[end] == ":" or text[end] in "0123456789abcdefABCDEF"):
            end += 1
        token = text[start:end]
        if token.count(":") >= 2 and not _word_char(text, start - 1) and not _word_char(text, end):
            try:
                ipaddress.IPv6Address(token)
            except ValueError:
                pass
            else:
                yield Finding("IPAddress", start, end)
        colon = text.find(":", end + 1)


class PiiScanner(Scanner):
    """Finds the selected categories (`*`: all of `DETECTORS`)."""

    def __init__(self, categories: Iterable[str]) -> None:
        wanted = set(categories)
        self.categories = frozenset(DETECTORS) if "*" in wanted else frozenset(wanted) & frozenset(DETECTORS)
        self._numeric = bool(self.categories - {"Email", "URL"})
        self._emails = "Email" in self.categories
        self._urls = "URL" in self.categories
        self._ipv6 = "IPAddress" in self.categories

    def findings(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        if self._emails:
            found += _emails(text)
        if self._urls:
            found += _urls(text)
        if self._ipv6:
            found += _ipv6(text)
        if self._numeric:
            found += (item for item in _numbers(text) if item.label in self.categories)
        return found

    def replacement(self, finding: Finding) -> str:
        return f"[REDACTED:{finding.label}]"
