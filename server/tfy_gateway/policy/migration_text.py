"""The migration report as text: each V1 rule and its V2 limits, the notes, then the equivalence runs.

Differences are grouped by (reason code, V1 outcome, V2 outcome) with a few examples each; the JSON
report (`--format json`, or `migration-report.json` beside the manifests) lists every request.
"""

from __future__ import annotations

from tfy_gateway.policy.equivalence import EquivalenceReport, grouped
from tfy_gateway.policy.migration import FamilyResult, MigrationResult
from tfy_gateway.policy.traffic import SimRequest

EXAMPLES_PER_GROUP = 3
CODES = {
    "first-match": "V2 checks a limit whose V1 rule matched but did not decide (V1: first match only)",
    "excluded": "V2 leaves the request out of a limit V1 refused it by",
    "widened": "V2 limit matches a request its V1 rule did not (a condition V2 cannot filter on)",
    "counter": "the same rule decided on both sides, but its counters hold different usage",
    "knock-on": "counters differ because of an earlier difference on the same counter",
    "audit": "the V2 limit was written in audit mode",
}


def format_migration(result: MigrationResult, written: list[str] | None = None) -> str:
    lines: list[str] = []
    for path in written or ():
        lines.append(f"wrote {path}")
    if written:
        lines.append("")
    lines.append(f"V1 rule -> V2 limits ({result.migration.strategy} strategy)")
    for translation in result.migration.translations:
        verdict = "exact" if translation.exact else "differs"
        kind = "rate limit" if translation.kind == "rate_limit" else "budget"
        targets = ", ".join(translation.names) or "(none)"
        lines.append(f"  {kind} {translation.rule_id} -> {targets}  [{verdict}]")
        for note in translation.notes:
            mark = "  " if note.exact else "! "
            lines.append(f"      {mark}{note.code}: {note.message}")
    errors = [f for f in result.findings if f.severity == "error"]
    lines.append("")
    if errors:
        lines.append(f"the V2 manifests do NOT validate ({len(errors)} error(s)):")
        lines += [f"  {f.format()}" for f in errors]
    else:
        warnings = len(result.findings)
        lines.append(f"the V2 manifests validate (0 errors, {warnings} warning(s))")
        lines += [f"  {f.format()}" for f in result.findings]
    for family in result.families:
        lines.append("")
        lines += _family(family)
    return "\n".join(lines)


def _family(family: FamilyResult) -> list[str]:
    report = family.report
    source = (
        f"generated traffic ({family.shapes} request shapes)" if report.source == "generated" else "recorded traffic"
    )
    v1_refused, _ = report.refused.get("v1", (0, 0))
    v2_refused, _ = report.refused.get("v2", (0, 0))
    head = (
        f"{family.family}: {report.requests:,} requests of {source} replayed against V1 and V2 "
        f"(refused: V1 {v1_refused:,}, V2 {v2_refused:,}; {report.elapsed_s:.2f} s)"
    )
    if report.equivalent:
        extra = f" ({len(report.other_rule)} refused by another rule)" if report.other_rule else ""
        return [head, f"  same outcome for every request{extra}"]
    lines = [head, f"  {len(report.differences):,} requests differ:"]
    lines += _groups(report)
    if report.other_rule:
        lines.append(f"  {len(report.other_rule):,} requests refused on both sides, by different rules")
    return lines


def _groups(report: EquivalenceReport) -> list[str]:
    lines: list[str] = []
    for group in grouped(report):
        meaning = CODES.get(group.code, group.code)
        lines.append(f"  {len(group.members):>6,}  V1 {group.v1}, V2 {group.v2}  [{group.code}: {meaning}]")
        for member in group.members[:EXAMPLES_PER_GROUP]:
            lines.append(f"          request {member.index} ({describe_request(member.request)})")
            lines.append(f"            {member.reason}")
    return lines


def describe_request(request: SimRequest) -> str:
    """`user:a@x [backend] -> openai-main/gpt-4o {project_id=p1}`."""
    who = request.caller + (f" [{', '.join(request.teams)}]" if request.teams else "")
    meta = ", ".join(f"{k}={v}" for k, v in request.metadata.items())
    return f"{who} -> {request.model}" + (f" {{{meta}}}" if meta else "")
