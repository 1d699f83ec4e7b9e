"""Summaries of the interleaved rounds, the ratios within each round, and the printed tables.

Every figure is summarised as median with min-max over rounds. Ratios are computed inside a round
(system and reference measured seconds apart) and then summarised, so that a machine getting slower
between rounds moves both sides of a ratio together.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from typing import Any

Spread = dict[str, Any]  # {"median", "min", "max", "rounds": [...]}

CHAT_FIELDS = (
    "rps", "p50_ms", "p90_ms", "p99_ms", "cpu_us_per_request", "support_cpu_us_per_request", "rss_peak_mb",
    "machine_busy", "machine_cpu_us_per_request", "collector_cpu_us_per_request", "upstream_cpu_us_per_request",
    "share_of_core_bound",
)  # fmt: skip
STREAM_FIELDS = ("rps", "ttft_p50_ms", "p50_ms", "p99_ms", "cpu_us_per_request")
# (name in JSON, reference system, per-round value from (system row, reference row), unit)
RATIOS: list[tuple[str, str, Callable[[dict[str, Any], dict[str, Any]], float | None], str]] = [
    ("rps_vs_litellm", "litellm", lambda s, r: s["rps"] / r["rps"] if r["rps"] else None, "x"),
    (
        "cpu_vs_floor",
        "floor",
        lambda s, r: s["cpu_us_per_request"] / r["cpu_us_per_request"] if r["cpu_us_per_request"] else None,
        "x",
    ),
    ("added_p50_vs_floor_ms", "floor", lambda s, r: s["p50_ms"] - r["p50_ms"], "ms"),
    ("added_p50_vs_upstream_ms", "upstream", lambda s, r: s["p50_ms"] - r["p50_ms"], "ms"),
]
STREAM_RATIOS: list[tuple[str, str, Callable[[dict[str, Any], dict[str, Any]], float | None], str]] = [
    ("added_ttft_vs_floor_ms", "floor", lambda s, r: s["ttft_p50_ms"] - r["ttft_p50_ms"], "ms"),
    ("added_total_vs_floor_ms", "floor", lambda s, r: s["p50_ms"] - r["p50_ms"], "ms"),
]


REFERENCES_ONLY = ("upstream", "fake-provider")  # ratios of these say nothing about a proxy


def spread(values: list[float | None]) -> Spread:
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "rounds": values}
    return {"median": statistics.median(present), "min": min(present), "max": max(present), "rounds": values}


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("failure") is None]


def summarise(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """{system: {concurrency: {field: spread, "errors": {status: total}, "requests": total}}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    keys = sorted({(row["system"], row["concurrency"]) for row in rows}, key=lambda k: (k[0], k[1]))
    for system, concurrency in keys:
        mine = [row for row in rows if row["system"] == system and row["concurrency"] == concurrency]
        good = _ok(mine)
        entry: dict[str, Any] = {field: spread([row.get(field) for row in good]) for field in fields}
        errors: dict[str, int] = {}
        for row in good:
            for status, count in row["errors"].items():
                errors[status] = errors.get(status, 0) + count
        entry["errors"] = errors
        entry["requests"] = sum(row["requests"] for row in good)
        entry["failures"] = [row["failure"] for row in mine if row.get("failure") is not None]
        out.setdefault(system, {})[str(concurrency)] = entry
    return out


def ratios(
    rows: list[dict[str, Any]],
    definitions: list[tuple[str, str, Callable[[dict[str, Any], dict[str, Any]], float | None], str]],
) -> dict[str, dict[str, dict[str, Spread]]]:
    """{ratio: {system: {concurrency: spread of the per-round values}}}, each against its reference."""
    index = {(row["round"], row["system"], row["concurrency"]): row for row in _ok(rows)}
    rounds = sorted({row["round"] for row in rows})
    out: dict[str, dict[str, dict[str, Spread]]] = {}
    for name, reference, compute, _ in definitions:
        systems = sorted({row["system"] for row in rows if row["system"] != reference})
        levels = sorted({row["concurrency"] for row in rows})
        table: dict[str, dict[str, Spread]] = {}
        for system in systems:
            for level in levels:
                values: list[float | None] = []
                for r in rounds:
                    mine, ref = index.get((r, system, level)), index.get((r, reference, level))
                    values.append(compute(mine, ref) if mine and ref else None)
                if any(v is not None for v in values):
                    table.setdefault(system, {})[str(level)] = spread(values)
        out[name] = table
    return out


def _fmt(s: Spread | None, digits: int = 0) -> str:
    if not s or s["median"] is None:
        return "-"
    if s["min"] == s["max"]:
        return f"{s['median']:.{digits}f}"
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"


def _errors(entry: dict[str, Any]) -> str:
    errors = entry["errors"]
    text = ", ".join(f"{status}:{count}" for status, count in sorted(errors.items())) if errors else "0"
    return text + (f" ({len(entry['failures'])} runs failed)" if entry["failures"] else "")


def _support(system: str, entry: dict[str, Any]) -> str:
    """What the row's CPU figure leaves out: redis-server's and the OTLP receiver's shares, and how busy the
    machine's cores were (below 100% at a concurrency that should saturate them: time the system left the
    cores idle); for several workers, how close they came to the cores' bound."""
    parts = []
    for field, label in (
        ("support_cpu_us_per_request", "redis-server"),
        ("collector_cpu_us_per_request", "OTLP receiver"),
    ):
        cpu = entry.get(field)
        if cpu and cpu["median"] is not None:
            parts.append(f"+ {label} {cpu['median']:.0f} µs/req")
    busy, share = entry.get("machine_busy"), entry.get("share_of_core_bound")
    if busy and busy["median"] is not None:
        parts.append(f"cores busy {busy['median'] * 100:.0f}%")
    if system.startswith("gateway-workers") and share and share["median"] is not None:
        low, high = share["min"] * 100, share["max"] * 100
        parts.append(f"{share['median'] * 100:.1f}% [{low:.1f}-{high:.1f}] of the {os.cpu_count()}-core bound")
    return f"  ({'; '.join(parts)})" if parts else ""


def _name_width(result: dict[str, Any]) -> int:
    """The system column: 16 wide, or as wide as the longest name (gateway-all-responses@granian)."""
    return max([16, *(len(name) for name in result["order"])])


def _print_chat(result: dict[str, Any]) -> None:
    nw = _name_width(result)
    widths = (24, 22, 22, 24, 20, 12)
    names = ("req/s", "p50 ms", "p90 ms", "p99 ms", "CPU µs/req", "RSS MB")
    heads = "".join(f" {n:>{w}}" for n, w in zip(names, widths, strict=True))
    print(f"{'chat':<{nw}} {'conc':>4}{heads}  errors")
    for system in result["order"]:
        for level, entry in result["chat"].get(system, {}).items():
            cells = (
                _fmt(entry["rps"]),
                _fmt(entry["p50_ms"], 2),
                _fmt(entry["p90_ms"], 2),
                _fmt(entry["p99_ms"], 2),
                _fmt(entry["cpu_us_per_request"]),
                _fmt(entry["rss_peak_mb"]),
            )
            row = "".join(f" {cell:>{w}}" for cell, w in zip(cells, widths, strict=True))
            print(f"{system:<{nw}} {level:>4}{row}  {_errors(entry)}{_support(system, entry)}")


def _print_streams(result: dict[str, Any]) -> None:
    nw = _name_width(result)
    print(f"\n{'stream':<{nw}} {'conc':>4} {'streams/s':>18} {'TTFT p50 ms':>24} {'total p50 ms':>24}  errors")
    for system in result["order"]:
        for level, entry in result["stream"].get(system, {}).items():
            print(
                f"{system:<{nw}} {level:>4} {_fmt(entry['rps']):>18} {_fmt(entry['ttft_p50_ms'], 2):>24} "
                f"{_fmt(entry['p50_ms'], 2):>24}  {_errors(entry)}"
            )


def _print_ratios(result: dict[str, Any]) -> None:
    levels = sorted({int(level) for table in result["ratios"].values() for row in table.values() for level in row})
    title = "ratio within each round (median [min-max])"
    nw = _name_width(result)
    print(f"\n{title:<44} {'system':<{nw}}" + "".join(f" {'c=' + str(c):>26}" for c in levels))
    for name, reference, _, unit in RATIOS + STREAM_RATIOS:
        table = result["ratios"].get(name, {})
        for system in result["order"]:
            if system in REFERENCES_ONLY or system not in table:
                continue
            cells = "".join(f" {_fmt(table[system].get(str(c)), 2):>26}" for c in levels)
            print(f"{name + ' (' + unit + ', vs ' + reference + ')':<44} {system:<{nw}}{cells}")


def _print_memory_and_profile(result: dict[str, Any]) -> None:
    if result["peak_rss_mb_c256"]:
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in result["peak_rss_mb_c256"].items())
        print(f"\npeak RSS at c=256 (MB, summed over the process tree): {peaks}")
    for system, soak in result["soak"].items():
        print(
            f"soak {system}: {soak['rate']}/s for {soak['seconds']:.0f} s: RSS {soak['start_mb']:.1f} -> "
            f"{soak['end_mb']:.1f} MB (min {soak['min_mb']:.1f}, max {soak['max_mb']:.1f}, "
            f"drift {soak['drift_mb']:+.1f}); {soak['ok']} ok, errors {soak['errors'] or 0}, skipped {soak['skipped']}"
        )
    prof = result.get("profile")
    if prof and prof.get("top_self"):
        print(
            f"\npy-spy {prof['system']} at c={prof['concurrency']} (GIL-held samples: {prof['samples']}), top by self:"
        )
        for entry in prof["top_self"][:15]:
            print(f"  {entry['self_pct']:5.1f}% self {entry['total_pct']:5.1f}% total  {entry['function']}")
    elif prof:
        print(f"\npy-spy {prof['system']}: {prof.get('failure')}")


def print_report(result: dict[str, Any]) -> None:
    meta = result["meta"]
    m = meta["machine"]
    print(
        f"\nmachine: {m['nproc']} CPUs ({m['cpu_model']}), load {meta['load_before']} -> {meta['load_after']}; "
        f"load generator {meta['load_generator']}; {meta['rounds']} interleaved rounds of {meta['seconds']} s"
    )
    print("figures: median [min-max] over rounds; CPU = server process tree utime+stime per 200 response\n")
    _print_chat(result)
    if result["stream"]:
        _print_streams(result)
    _print_ratios(result)
    _print_memory_and_profile(result)
    for system, info in result["systems"].items():
        if info["status"] != "ok":
            print(f"{system}: {info['status']}: {info['reason']}")
        traces = info.get("otlp_received", {}).get("/v1/traces")
        if traces:
            print(f"{system}: its OTLP receiver took {traces['exports']} trace exports ({traces['bytes']} bytes)")
    print(f"\nJSON: {result['meta']['json_path']}")
