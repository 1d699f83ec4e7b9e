"""`tfy-gateway explain`: how the gateway would route a request, without sending one upstream.

Calls `POST /api/svc/v1/llm-gateway/explain` on TFY_BASE_URL with TFY_API_KEY (through
`ControlPlaneClient.explain`, so failures read like every other control-plane command) and prints which
routing rule matches and why (and why earlier rules did not), the candidate targets with their
weights/priorities/health, sticky status and the order in which targets would be tried, then the
rate limits and budgets, and the guardrails that would check its input and output.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, key_value, settings_from_env
from tfy_gateway.cli._output import add_format
from tfy_gateway.cli.usage import limit_line
from tfy_gateway.platform import ControlPlaneClient, ControlPlaneError, ControlPlaneSettings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show how the gateway would route a request (rule, candidates, attempt order)",
        description=(
            "Ask the control plane (TFY_BASE_URL with TFY_API_KEY) how it would route a request for "
            "MODEL from SUBJECT: which routing rule matches and why, why earlier rules did not, the "
            "candidate targets with weights/priorities/health, sticky status and the attempt order. "
            "Nothing is sent to a provider."
        ),
    )
    parser.add_argument("--model", required=True, help="the model a request would ask for, e.g. openai/gpt-4o")
    parser.add_argument(
        "--subject",
        required=True,
        type=_subject,
        help="the caller, e.g. user:a@x.com (or just a@x.com), team:ml or virtualaccount:ci (a known user's teams "
        "count too)",
    )
    parser.add_argument(
        "--metadata",
        action="append",
        default=[],
        type=key_value,
        metavar="KEY=VALUE",
        help="X-TFY-METADATA entry (repeatable)",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        type=key_value,
        metavar="NAME=VALUE",
        help="a request header, e.g. a sticky-session identifier (repeatable; sent as `headers`)",
    )
    add_format(parser)
    parser.set_defaults(handler=run)


def _subject(text: str) -> str:
    """A bare email names a user."""
    return f"user:{text.strip()}" if ":" not in text and "@" in text else text


def run(args: argparse.Namespace) -> int:
    metadata, headers = dict(args.metadata), dict(args.header)
    settings = settings_from_env()
    if settings is None:
        return EXIT_USAGE
    try:
        report = anyio.run(_explain, settings, args.subject, args.model, metadata, headers)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(render(report), end="")
    return EXIT_OK


async def _explain(
    settings: ControlPlaneSettings, subject: str, model: str, metadata: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    async with ControlPlaneClient.from_settings(settings) as client:
        return await client.explain(subject, model, metadata, headers)


def render(report: dict[str, Any]) -> str:
    """The explanation as readable text."""
    lines: list[str] = []
    subjects = ", ".join(report.get("subjects") or []) or "(none)"
    metadata = ", ".join(f"{k}={v}" for k, v in (report.get("metadata") or {}).items()) or "(none)"
    lines.append(f"Request:   model {report.get('requested_model')}; subjects {subjects}; metadata {metadata}")
    if report.get("virtual_model"):
        lines.append(f"Routing:   virtual model {report.get('config_name')} ({report.get('strategy')})")
    elif report.get("matched_rule"):
        lines.append(
            f"Routing:   rule '{report['matched_rule']}' of config '{report.get('config_name')}' "
            f"({report.get('strategy')})"
        )
    else:
        lines.append("Routing:   no rule matches")
    if report.get("rules"):
        lines.append("Rules, in order:")
        for rule in report["rules"]:
            mark = "MATCH" if rule.get("matched") else "skip "
            lines.append(f"  {mark} {rule.get('id')}: {rule.get('reason')}")
    if report.get("candidates"):
        lines.append("Candidates:")
        for candidate in report["candidates"]:
            lines.append("  " + _candidate(candidate))
    sticky = report.get("sticky")
    if sticky:
        pinned = sticky.get("pinned_target")
        lines.append(
            f"Sticky:    ttl {sticky.get('ttl_seconds')}s; "
            + (f"pinned to {pinned}" if pinned else str(sticky.get("note")))
        )
    lines.append("Attempts:  " + " -> ".join(report.get("attempts") or []))
    for detail in report.get("attempt_details") or []:
        retry = detail.get("retry") or {}
        codes = ",".join(str(c) for c in retry.get("on_status_codes") or []) or "-"
        fallback = ",".join(str(c) for c in detail.get("fallback_status_codes") or []) or "-"
        lines.append(
            f"  {detail.get('target')}: {retry.get('attempts')} retries on {codes} after {retry.get('delay_ms')} ms; "
            f"falls back on {fallback}"
        )
    known = {
        "requested_model", "subject", "subjects", "metadata", "virtual_model", "source", "config_name", "matched_rule",
        "strategy", "rules", "candidates", "sticky", "attempts", "attempt_details", "notes", "limits", "access",
        "guardrails",
    }  # fmt: skip
    for key, value in report.items():
        if key not in known and value not in (None, [], {}):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {json.dumps(value)}")
    for note in report.get("notes") or []:
        lines.append(f"Note:      {note}")
    access = report.get("access")
    denied = isinstance(access, dict) and not access.get("allowed", True)
    if isinstance(access, dict):
        verdict = "allowed" if not denied else f"REFUSED with {access.get('status') or 403}"
        lines.append(f"Access:    {verdict}: {access.get('reason')}")
    limits = report.get("limits")
    if isinstance(limits, dict):
        lines += _limits(limits, denied)
    guardrails = report.get("guardrails")
    if isinstance(guardrails, dict):
        lines += _guardrails(guardrails)
    return "\n".join(lines) + "\n"


def _guardrails(report: dict[str, Any]) -> list[str]:
    """The guardrail rules (all matching ones apply) and the guardrails they would run, in order."""
    rules = report.get("rules") or []
    if not rules and not report.get("input") and not report.get("output"):
        return ["Guardrails: none configured"]
    lines = [f"Guardrails: every matching rule applies (timeout {report.get('timeout_ms')} ms)"]
    for rule in rules:
        mark = "MATCH" if rule.get("matched") else "skip "
        lines.append(f"  {mark} {rule.get('id')}: {rule.get('reason')}")
    for stage in ("input", "output"):
        for entry in report.get(stage) or []:
            priority = f", priority {entry['priority']}" if "priority" in entry else ""
            lines.append(
                f"  {stage:<6} {entry.get('guardrail')} ({entry.get('type')}, {entry.get('operation')}{priority}, "
                f"{entry.get('mode')}; rules {', '.join(entry.get('rules') or []) or 'header'}): {entry.get('when')}"
            )
    if rules and not report.get("input") and not report.get("output"):
        lines.append("  no guardrail would run on this request")
    return lines


def _limits(limits: dict[str, Any], denied: bool = False) -> list[str]:
    """The rate-limit and budget rules the request would meet, with the headroom of each counter."""
    verdict = "admitted" if limits.get("admitted") else f"refused by '{limits.get('refused_by')}'"
    if denied:
        lines = [f"Limits:    not reached: model access refuses the request first (the limits alone: {verdict})"]
    else:
        lines = [f"Limits:    the request would be {verdict}"]
    for title, key in (("Rate-limit rules", "rate_limits"), ("Budget rules", "budgets")):
        rules = limits.get(key) or []
        if not rules:
            continue
        lines.append(f"{title}, in order:")
        for rule in rules:
            mark = "MATCH" if rule.get("matched") else "skip "
            lines.append(f"  {mark} {rule.get('name')}: {rule.get('reason')}")
            for entity in rule.get("entities") or []:
                for unit, period in (entity.get("periods") or {}).items():
                    line = limit_line(entity.get("entity"), unit, period)
                    if entity.get("would_refuse"):
                        line += " -> WOULD REFUSE"
                    elif "note" in entity:
                        line += f" ({entity['note']})"
                    lines.append("          " + line)
    return lines


def _candidate(candidate: dict[str, Any]) -> str:
    parts = [str(candidate.get("target"))]
    if "weight" in candidate:
        parts.append(f"weight {candidate['weight']}")
    if "priority" in candidate:
        parts.append(f"priority {candidate['priority']}")
    latency = candidate.get("latency")
    if latency:
        mean = latency.get("mean_tpot_ms")
        judged = f"{mean} ms/token" if latency.get("judged") else "not judged yet"
        parts.append(f"{latency.get('samples')} samples, {judged}")
    if not candidate.get("eligible", True):
        parts.append(f"excluded ({candidate.get('excluded_because')})")
    else:
        parts.append(f"first {round(100 * float(candidate.get('probability') or 0))}%")
    if not candidate.get("healthy", True):
        parts.append(f"UNHEALTHY for {candidate.get('unhealthy_for_s')}s")
    if not candidate.get("fallback_candidate", True):
        parts.append("not a fallback")
    return "; ".join(parts)
