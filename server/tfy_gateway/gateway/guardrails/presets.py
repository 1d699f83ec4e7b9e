"""The `regex` guardrail's named presets (`PresetRegexPatternEnum`), as this gateway defines them.

The platform does not publish its patterns, so these are ours (references/guardrails.md says so):
identifiers by their usual written form, credentials by their documented prefixes, and the topic
presets (weapons_firearms, self_harm_suicide, ...) as case-insensitive word lists, which catch the
obvious phrasing and nothing subtle. Every preset is one Python regular expression, compiled with the
guardrail at apply time.
"""

from __future__ import annotations


def _words(*words: str) -> str:
    """A case-insensitive whole-word alternation (word stems end in \\w* to catch inflections)."""
    return r"(?i)\b(?:" + "|".join(words) + r")\b"


_CARD_NETWORKS = {
    "visa": r"\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\b",
    "mastercard": r"\b(?:5[1-5][0-9]{2}|2(?:2[2-9][1-9]|[3-6][0-9]{2}|7[01][0-9]|720))(?:[ -]?[0-9]{4}){3}\b",
    "amex": r"\b3[47][0-9]{2}[ -]?[0-9]{6}[ -]?[0-9]{5}\b",
    "discover": r"\b6(?:011|5[0-9]{2})(?:[ -]?[0-9]{4}){3}\b",
}

PRESETS: dict[str, str] = {
    "us_ssn": r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b",
    "us_ssn_no_dash": r"\b(?!000|666|9[0-9]{2})[0-9]{3}(?!00)[0-9]{2}(?!0000)[0-9]{4}\b",
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    "us_phone": r"(?<![0-9])(?:\+?1[ .-]?)?\(?[2-9][0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-]?[0-9]{4}\b",
    "india_aadhaar": r"\b[2-9][0-9]{3} ?[0-9]{4} ?[0-9]{4}\b",
    "india_pan": r"\b[A-Z]{3}[ABCFGHLJPT][A-Z][0-9]{4}[A-Z]\b",
    **_CARD_NETWORKS,
    "credit_card": r"\b(?:"
    + "|".join(pattern.removeprefix(r"\b").removesuffix(r"\b") for pattern in _CARD_NETWORKS.values())
    + r")\b",
    "aws_access_key": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",
    "aws_secret_key": r"(?i)\baws.{0,20}?(?:secret|key).{0,20}?[\"'=:\s][A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b",
    "generic_api_key": r"(?i)\b(?:api[_-]?key|apikey|access[_-]?token|secret[_-]?key|auth[_-]?token)\b"
    r"[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9_\-.]{16,}",
    "ipv4": r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\b",
    "ipv6": r"(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![:\w])"
    r"|(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,6}(?![:\w])"
    r"|(?<![:\w])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![:\w])",
    "url": r"\b(?:https?://|www\.)[^\s<>\"'()]+",
    "passport_us": r"\b[A-Z][0-9]{8}\b",
    "passport_uk": r"\b[0-9]{9}(?:GBR\b|\b(?=.{0,40}\bpassport\b))",
    "passport_germany": r"\b[CFGHJK][CFGHJKLMNPRTVWXYZ0-9]{8}\b",
    "passport_france": r"\b[0-9]{2}[A-Z]{2}[0-9]{5}\b",
    "passport_netherlands": r"\b[A-NP-Z]{2}[A-NP-Z0-9]{6}[0-9]\b",
    "passport_canada": r"\b[A-Z]{2}[0-9]{6}\b",
    "passport_india": r"\b[A-Z][1-9][0-9] ?[0-9]{4}[1-9]\b",
    "passport_australia": r"\b[A-Z]{1,2}[0-9]{7}\b",
    "passport_china": r"\b[EG][0-9]{8}\b",
    "passport_japan": r"\b[A-Z]{2}[0-9]{7}\b",
    "gender_sexual_orientation": _words(
        r"gay", r"lesbian\w*", r"bisexual\w*", r"transgender\w*", r"homosexual\w*", r"queer", r"sexual orientation"
    ),
    "race_ethnicity_national_origin": _words(
        r"race", r"racial", r"ethnicity", r"ethnic", r"national origin", r"nationality", r"immigrant\w*"
    ),
    "religion": _words(
        r"religion\w*", r"religious", r"muslim\w*", r"christian\w*", r"jew\w*", r"hindu\w*", r"atheis\w*"
    ),
    "age_discrimination": _words(r"too old", r"too young", r"age limit", r"older workers?", r"ageis\w*"),
    "disability": _words(r"disabilit\w*", r"disabled", r"handicap\w*", r"wheelchair\w*", r"impairment\w*"),
    "marital_family_status": _words(r"marital status", r"pregnan\w*", r"divorc\w*", r"single mother", r"married"),
    "military_status": _words(r"veteran\w*", r"military service", r"active duty", r"national guard"),
    "public_assistance": _words(
        r"welfare", r"food stamps?", r"medicaid", r"public assistance", r"unemployment benefits?"
    ),
    "weapons_firearms": _words(r"guns?", r"firearms?", r"rifles?", r"pistols?", r"handguns?", r"ammunition", r"ar-15"),
    "weapons_other": _words(r"knife", r"knives", r"machete\w*", r"crossbow\w*", r"brass knuckles", r"taser\w*"),
    "explosives": _words(r"explosives?", r"bombs?", r"detonat\w*", r"grenades?", r"tnt", r"pipe bomb\w*"),
    "violence_threats": _words(r"kill you", r"hurt you", r"beat you", r"shoot you", r"i will kill", r"murder\w*"),
    "terrorism": _words(r"terroris\w*", r"jihad\w*", r"isis", r"al-qaeda", r"extremis\w*"),
    "self_harm_suicide": _words(r"suicid\w*", r"kill myself", r"self[- ]harm\w*", r"cut myself", r"end my life"),
    "illegal_activities": _words(r"launder\w*", r"smuggl\w*", r"counterfeit\w*", r"drug traffick\w*", r"steal\w*"),
    "harassment_hate": _words(r"hate you", r"idiot", r"stupid", r"worthless", r"slur\w*", r"loser"),
}
"""Preset name -> pattern. A test checks every name of the platform's enum is here."""

DIGIT_FIRST = frozenset(
    {
        "us_ssn",
        "us_ssn_no_dash",
        "india_aadhaar",
        *_CARD_NETWORKS,
        "credit_card",
        "ipv4",
        "passport_uk",
        "passport_france",
    }
)
"""Presets whose every match starts with a digit right after a word boundary (finders.py tries them
only where a run of digits starts)."""
