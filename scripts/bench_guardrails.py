"""What the guardrails stage costs a request: regex and PII checks on a 1 KB and a 32 KB prompt.

The stage runs as the data plane runs it (`GuardrailRun.check_input` of the compiled config, the
integrations compiled at apply time), in this process, on a chat body whose one user message is the
prompt: a new one every request (a word in front of it changes), except in the `repeated` cases,
where every request sends the same text (a system prompt, a conversation's history: the scanners
remember what they found in texts they saw lately). Prompts are prose with a number every sentence
(the detectors' worst common case: every digit run is looked at), once clean and once with an email
and a card number near the end. Figures are CPU microseconds per request (median of rounds), and
the selection alone (a config with guardrail rules that match no request) for the cost of having
rules at all. Figures, not assertions.

    python scripts/bench_guardrails.py [--rounds 5] [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from tfy_gateway.gateway.guardrails import Caller, GuardrailRun, RequestView, compile_guardrails
from tfy_gateway.gateway.providers import MemoryTransport
from tfy_gateway.gateway.providers.transport import HttpResponse
from tfy_gateway.manifests import parse_manifest
from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup
from tfy_gateway.manifests.guardrails import GuardrailsConfig

SUBJECTS = ("user:bench@example.com", "team:everyone")
SENTENCE = "The team met on floor 4 to review the quarterly plan and agreed on the next steps. "
SECRET = " Reach me at jane.doe@example.com, card 4111 1111 1111 1111."
GROUP = {
    "name": "bench",
    "type": "provider-account/guardrail-config-group",
    "integrations": [
        {
            "name": "regex",
            "type": "integration/guardrail-config/regex",
            "operation": "validate",
            "enforcing_strategy": "audit",
            "config": {
                "preset_patterns": {"presets": ["email", "us_ssn", "credit_card", "aws_access_key"]},
                "custom_patterns": [{"pattern": r"\bproject-[a-z]+\b"}],
            },
        },
        {
            "name": "pii",
            "type": "integration/guardrail-config/tfy-pii",
            "operation": "validate",
            "enforcing_strategy": "audit",
            "config": {"pii_categories": ["*"]},
        },
    ],
}


def rules(guardrails: list[str], models: list[str] | None = None) -> dict[str, Any]:
    when: dict[str, Any] = {}
    if models:
        when = {"target": {"operator": "or", "conditions": {"model": {"condition": "in", "values": models}}}}
    return {
        "name": "bench",
        "type": "gateway-guardrails-config",
        "rules": [
            {
                "id": "bench",
                "when": when,
                "llm_input_guardrails": guardrails,
                "llm_output_guardrails": [],
                "mcp_tool_pre_invoke_guardrails": [],
                "mcp_tool_post_invoke_guardrails": [],
            }
        ],
    }


def prompt(size: int, with_pii: bool) -> str:
    text = (SENTENCE * (size // len(SENTENCE) + 1))[:size]
    return text[: size - len(SECRET)] + SECRET if with_pii else text


def letters(number: int) -> str:
    """`number` written in letters (no digit: a digit would be one more thing for the PII scan to look at)."""
    word = ""
    while True:
        number, digit = divmod(number, 26)
        word += chr(ord("a") + digit)
        if not number:
            return word


async def per_request(
    guardrails: list[str], text: str, seconds: float, models: list[str] | None = None, *, fresh: bool = True
) -> float:
    group = parse_manifest(GROUP)
    config = parse_manifest(rules(guardrails, models))
    assert isinstance(group, GuardrailConfigGroup) and isinstance(config, GuardrailsConfig)
    compiled = compile_guardrails(config, [group], None, lambda value: value)
    caller = Caller("user:bench@example.com", "user", "bench@example.com")
    transport = MemoryTransport(lambda request: HttpResponse(200, {}, b"{}"))  # local guardrails call nothing
    view = RequestView("bench/model", caller, {}, transport)
    # fresh: a text no request sent before (a new turn); else the same text every time (a repeated
    # system prompt or conversation history, which the scanners remember). Bodies are built 20 at a
    # time outside the measured CPU time.
    count = 0
    spent = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        bodies = [
            {
                "model": "bench/model",
                "messages": [{"role": "user", "content": f"{letters(n)} {text}" if fresh else text}],
            }
            for n in range(count, count + 20)
        ]
        started = time.process_time()
        for body in bodies:
            selection = compiled.select("bench/model", SUBJECTS, {})
            if selection is not None:
                await GuardrailRun(selection, view).check_input(body)
        spent += time.process_time() - started
        count += 20
    return spent / count * 1e6


async def main(rounds: int, seconds: float) -> None:
    cases = [
        ("no rule matches (rules present)", [], 1024, False, ["other/model"]),
        ("regex, 1 KB, clean", ["bench/regex"], 1024, False, None),
        ("regex, 1 KB, with PII", ["bench/regex"], 1024, True, None),
        ("regex, 32 KB, clean", ["bench/regex"], 32 * 1024, False, None),
        ("PII (*), 1 KB, clean", ["bench/pii"], 1024, False, None),
        ("PII (*), 1 KB, with PII", ["bench/pii"], 1024, True, None),
        ("PII (*), 32 KB, clean", ["bench/pii"], 32 * 1024, False, None),
        ("PII (*), 32 KB, with PII", ["bench/pii"], 32 * 1024, True, None),
        ("regex + PII, 1 KB, with PII", ["bench/regex", "bench/pii"], 1024, True, None),
        ("regex + PII, 32 KB, with PII", ["bench/regex", "bench/pii"], 32 * 1024, True, None),
    ]
    print(f"{'case':<34} {'µs CPU/request':>15}  (median of {rounds} rounds)")
    cases += [
        ("regex + PII, 9 chars", ["bench/regex", "bench/pii"], 9, False, None),
        ("regex + PII, 32 KB, repeated", ["bench/regex", "bench/pii"], 32 * 1024, True, None),
        ("regex + PII, 9 chars, repeated", ["bench/regex", "bench/pii"], 9, False, None),
    ]
    for label, guardrails, size, with_pii, models in cases:
        text = prompt(size, with_pii)
        fresh = not label.endswith("repeated")
        figures = [
            await per_request(guardrails or ["bench/regex"], text, seconds, models, fresh=fresh) for _ in range(rounds)
        ]
        print(f"{label:<34} {statistics.median(figures):>15.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round per case")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.seconds))
