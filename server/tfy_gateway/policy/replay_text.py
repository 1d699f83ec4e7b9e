"""A replay report as text: what the proposal changes, rule by rule, then the deltas per team, user and model."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from tfy_gateway.policy.replay import ChangeKind, ReplayReport, Totals

EXAMPLES = 3
TITLES: dict[ChangeKind, str] = {
    "newly-refused": "newly refused (429)",
    "newly-admitted": "newly admitted",
    "refused-by-another-rule": "refused by another rule",
    "newly-denied": "newly denied (403)",
    "newly-allowed": "newly allowed (no longer 403)",
    "rerouted": "rerouted",
}


def format_replay(report: ReplayReport) -> str:
    if not report.requests:
        return "no recorded request to replay"
    lines = [f"replayed {report.requests:,} recorded requests against the current config and the proposal "
             f"({report.elapsed_s:.2f} s)"]  # fmt: skip
    if report.recorded:
        lines.append(f"the current config reproduces {report.reproduced:,} of {report.recorded:,} recorded outcomes")
    if not report.changes:
        lines.append("no request changes outcome or route")
    for kind, title in TITLES.items():
        changes = report.of(kind)
        if not changes:
            continue
        lines.append(f"{title}: {len(changes):,}")
        if kind == "rerouted":
            moves = Counter(f"{c.current.served_by} -> {c.proposed.served_by}" for c in changes)
            lines += [f"    {move}: {count:,}" for move, count in moves.most_common()]
            continue
        rules = Counter(c.proposed.describe() if kind != "newly-admitted" else c.current.describe() for c in changes)
        for rule, count in rules.most_common():
            lines.append(f"    {rule}: {count:,}")
        for change in changes[:EXAMPLES]:
            request = change.request
            lines.append(
                f"      request {change.index} ({request.label or 'no id'}, {_time(request.at)}): {request.caller} -> "
                f"{request.model}: {change.current.describe()} -> {change.proposed.describe()}"
            )
    lines += _deltas(report)
    for rule, (now, then) in report.earlier.items():
        was = _time(now) if now is not None else "never"
        proposed = _time(then) if then is not None else "never"
        lines.append(f"budget '{rule}' exhausted earlier: at {proposed} (current config: {was})")
    return "\n".join(lines)


def _deltas(report: ReplayReport) -> list[str]:
    lines: list[str] = []
    for dimension, rows in report.totals.items():
        changed = [(key, now, then) for key, (now, then) in sorted(rows.items()) if _differs(now, then)]
        if not changed:
            continue
        lines.append(f"per {dimension} (current -> proposed):")
        for key, now, then in changed:
            lines.append(
                f"    {key}: admitted {now.admitted:,} -> {then.admitted:,}, tokens {now.tokens:,} -> {then.tokens:,}, "
                f"cost ${now.cost:,.4f} -> ${then.cost:,.4f} ({then.cost - now.cost:+,.4f})"
            )
    return lines


def _differs(now: Totals, then: Totals) -> bool:
    return (now.admitted, now.tokens, round(now.cost, 9)) != (then.admitted, then.tokens, round(then.cost, 9))


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
