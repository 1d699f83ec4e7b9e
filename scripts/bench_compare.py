"""Side-by-side benchmark: the gateway against a raw upstream (ceiling), a minimal Starlette + aiohttp
proxy (floor) and LiteLLM's proxy, on loopback, each started and stopped here.

Closed-loop chat at each concurrency (wrk when installed, else an aiohttp loop), streams (time to
first token and total, aiohttp), server CPU per request from /proc (the figure that survives a
noisy machine), peak RSS at c=256 and RSS over a fixed-rate soak. Rounds are interleaved, every other
one in reverse order (A B C, C B A, ...), and ratios are computed within each round. Prints a table
and writes JSON. Figures, not assertions: see references/performance.md for what each one means.

    python scripts/bench_compare.py                # the full run (make bench)
    python scripts/bench_compare.py --quick        # c=32 and c=1: floor, gateway-all, LiteLLM (make bench-quick)
    python scripts/bench_compare.py --systems floor,gateway-all --levels 1 --rounds 1 --seconds 1 --no-soak
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from compare import litellm, loadgen, procstat, profile, report, stream_slices, systems  # noqa: E402
from compare.processes import StartError, free_port  # noqa: E402

DEFAULT_RESULTS = REPO / "bench-results"
QUICK_SYSTEMS = ["upstream", "floor", "gateway-all", "litellm"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="c=32,1, 2 rounds of 3 s, no soak: upstream, floor, gateway-all, LiteLLM"
    )
    parser.add_argument(
        "--systems",
        help=(
            f"comma-separated, from {','.join(systems.ALL)} (default: all but {','.join(systems.OPTIONAL)}); "
            f"a gateway served by another server as NAME@SERVER, SERVER from {','.join(systems.SERVERS)} "
            "(e.g. gateway-all@granian)"
        ),
    )
    parser.add_argument("--levels", default="1,32,256", help="closed-loop concurrency levels (default 1,32,256)")
    parser.add_argument("--stream-levels", default="1,32", help="stream concurrency levels; '' for none (default 1,32)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per chat run (default 5)")
    parser.add_argument("--stream-seconds", type=float, default=3.0, help="per stream run (default 3)")
    parser.add_argument(
        "--stream-slices",
        type=int,
        default=6,
        help="each stream run cut into this many slices, the systems' slices alternating (default 6)",
    )
    parser.add_argument("--soak-seconds", type=float, default=120.0, help="fixed-rate RSS soak length (default 120)")
    parser.add_argument("--soak-rate", type=float, default=200.0, help="soak requests per second (default 200)")
    parser.add_argument("--soak-systems", default="gateway-all", help="systems soaked (default gateway-all)")
    parser.add_argument("--no-soak", action="store_true", help="skip the soak")
    parser.add_argument(
        "--profile", metavar="SYSTEM", help="py-spy that system (GIL-held samples) at c=32 after the rounds"
    )
    parser.add_argument("--profile-seconds", type=float, default=15.0, help="length of the profiled run (default 15)")
    parser.add_argument("--workers", type=int, default=2, help="gateway-workers: --workers N (default 2)")
    parser.add_argument("--load-generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--chunks", type=int, default=16, help="upstream stream deltas (default 16)")
    parser.add_argument("--interval-ms", type=float, default=1.0, help="upstream pause between deltas (default 1)")
    parser.add_argument("--litellm-venv", type=Path, default=litellm.DEFAULT_VENV)
    parser.add_argument(
        "--gateway-source",
        type=Path,
        default=REPO / "server",
        help="the server/ directory whose tfy_gateway is benchmarked (default: this checkout's; e.g. another worktree)",
    )
    parser.add_argument("--json", type=Path, help=f"where to write the JSON (default {DEFAULT_RESULTS}/<time>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.systems = args.systems or ",".join(QUICK_SYSTEMS)
        args.levels, args.rounds, args.seconds, args.stream_seconds, args.no_soak = "32,1", 2, 3.0, 2.0, True
    names = args.systems.split(",") if args.systems else list(systems.DEFAULT)
    unknown = [name for name in names if not systems.known(name)]
    if unknown:
        parser.error(
            f"unknown system(s) {', '.join(unknown)}: choose from {', '.join(systems.ALL)}, "
            f"a gateway one as NAME@SERVER with SERVER one of {', '.join(systems.SERVERS)}"
        )
    args.names = systems.ordered(list(dict.fromkeys(names)))
    try:
        args.level_list = [int(x) for x in args.levels.split(",") if x]
        args.stream_level_list = [int(x) for x in args.stream_levels.split(",") if x]
    except ValueError:
        parser.error("--levels and --stream-levels take comma-separated integers, e.g. 1,32,256")
    if not args.level_list or min(args.level_list + args.stream_level_list) < 1:
        parser.error("--levels needs at least one level, and every level must be >= 1")
    if args.rounds < 1 or args.seconds <= 0 or args.stream_seconds <= 0 or args.workers < 1 or args.stream_slices < 1:
        parser.error("--rounds, --workers and --stream-slices must be >= 1, --seconds and --stream-seconds > 0")
    args.gateway_source = args.gateway_source.resolve()
    if not (args.gateway_source / "tfy_gateway" / "__init__.py").is_file():
        parser.error(
            f"--gateway-source {args.gateway_source}: no tfy_gateway package there (give a checkout's server/)"
        )
    if args.profile and (args.profile not in args.names or profile.py_spy() is None):
        parser.error(f"--profile {args.profile}: name a system of the run, and install py-spy (pip install py-spy)")
    if args.load_generator == "wrk" and not loadgen.wrk_available():
        parser.error("--load-generator wrk: wrk is not on PATH (apt-get install -y wrk)")
    if args.load_generator == "auto":
        args.load_generator = "wrk" if loadgen.wrk_available() else "python"
    return args


def measure(
    system: str,
    server: systems.Running,
    concurrency: int,
    seconds: float,
    generator: str,
) -> dict[str, Any]:
    """One run against one system: the load's figures plus the server tree's CPU and RSS over it."""
    pids = procstat.tree(server.pid)
    cpu = procstat.cpu_seconds(pids)
    support = procstat.cpu_seconds(server.support_pids)
    elsewhere = _paid_elsewhere(server)
    paid = {key: procstat.cpu_seconds(pids) for key, pids in elsewhere.items()}
    busy, total = procstat.machine_cpu_seconds()
    row: dict[str, Any] = {"system": system, "concurrency": concurrency, "failure": None}
    with procstat.RssSampler(server.pid) as sampler:
        try:
            if generator == "wrk":
                run = loadgen.run_wrk(server.target, concurrency, seconds)
            else:
                run = loadgen.run_python(server.target, concurrency, seconds)
        except (RuntimeError, OSError) as exc:
            return {**row, "failure": str(exc)[:500], "errors": {}, "requests": 0}
    cpu = procstat.cpu_seconds(procstat.tree(server.pid) or pids) - cpu
    support = procstat.cpu_seconds(server.support_pids) - support
    paid = {key: procstat.cpu_seconds(pids) - paid[key] for key, pids in elsewhere.items()}
    busy_after, total_after = procstat.machine_cpu_seconds()
    busy, total = busy_after - busy, total_after - total
    per = max(run.ok, 1)
    row.update(run.as_dict())
    row["cpu_us_per_request"] = cpu / per * 1e6
    row["support_cpu_us_per_request"] = support / per * 1e6 if server.support_pids else None
    row["loadgen_cpu_us_per_request"] = run.loadgen_cpu_s / per * 1e6
    for key in ("collector", "upstream"):
        row[f"{key}_cpu_us_per_request"] = paid[key] / per * 1e6 if key in paid else None
    row["share_of_core_bound"] = share_of_core_bound(row)
    # The whole machine over the run: how busy its cores were, and its CPU per request (with what the
    # run does not count: the upstream, a trace receiver, the kernel's threads, other processes).
    # (the two counts are sums of per-state floats: a saturated run can exceed 1 by rounding alone)
    row["machine_busy"] = min(busy / total, 1.0) if total > 0 else None
    row["machine_cpu_us_per_request"] = busy / per * 1e6
    row["rss_peak_mb"] = sampler.peak
    row["rss_end_mb"] = sampler.samples[-1][1] if sampler.samples else 0.0
    return row


def _paid_elsewhere(server: systems.Running) -> dict[str, list[int]]:
    """Processes each request also costs CPU in, outside the server's tree and its state (redis-server):
    the OTLP receiver its traces go to and the upstream it proxies to."""
    out: dict[str, list[int]] = {}
    if server.collector_pids:
        out["collector"] = server.collector_pids
    if server.upstream_pid is not None:
        out["upstream"] = [server.upstream_pid]
    return out


def share_of_core_bound(row: dict[str, Any]) -> float | None:
    """req/s as a share of what the machine's cores could serve if every request cost only what it is
    measured to cost everywhere (server, redis-server, OTLP receiver, upstream, load generator): the bound
    that N workers on an N-core machine are held to (references/performance.md). None when a part is unknown."""
    parts = ("cpu", "support_cpu", "collector_cpu", "upstream_cpu", "loadgen_cpu")
    costs = [row.get(f"{part}_us_per_request") for part in parts]
    if row.get("upstream_cpu_us_per_request") is None or not row.get("rps"):
        return None
    per_request_us = float(sum(cost for cost in costs if cost is not None))
    if per_request_us <= 0:
        return None
    bound = (os.cpu_count() or 1) * 1e6 / per_request_us
    return float(row["rps"]) / bound


def soak(server: systems.Running, rate: float, seconds: float) -> dict[str, Any]:
    with procstat.RssSampler(server.pid, interval=1.0) as sampler:
        outcome = loadgen.run_fixed_rate(server.target, rate, seconds)
    values = [mb for _, mb in sampler.samples]
    edge = max(1, len(values) // 10)  # a tenth of the soak at each end, so one sample's noise does not decide
    return {
        "drift_mb": statistics.median(values[-edge:]) - statistics.median(values[:edge]) if values else 0.0,
        "rate": rate,
        **outcome,
        "samples": [[round(t, 1), round(mb, 2)] for t, mb in sampler.samples],
        "start_mb": values[0] if values else 0.0,
        "end_mb": values[-1] if values else 0.0,
        "min_mb": min(values, default=0.0),
        "max_mb": max(values, default=0.0),
    }


def profiled(server: systems.Running, seconds: float, generator: str, raw: Path) -> dict[str, Any]:
    """py-spy (GIL-held samples) over a c=32 closed loop of `seconds`; its top functions by self time."""
    raw.parent.mkdir(parents=True, exist_ok=True)
    recorder = profile.start(server.pid, seconds, raw, gil=True)
    row = measure("profiled", server, 32, seconds + 1, generator)
    _, stderr = recorder.communicate(timeout=seconds + 60)
    if recorder.returncode != 0 or not raw.exists():
        return {"failure": f"py-spy exited with {recorder.returncode}: {stderr.decode(errors='replace')[-400:]}"}
    summary = profile.top(raw, str(REPO))
    return {"concurrency": 32, "gil": True, "rps": row.get("rps"), "raw_path": str(raw), **summary}


def serve_help(python: str, source: Path) -> str:
    """`serve --help` of the benchmarked code: which of --redis-url and --workers it has."""
    result = subprocess.run(
        [python, "-m", "tfy_gateway", "serve", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(source)},
        check=False,
    )
    return result.stdout


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def received(otlp_url: str) -> dict[str, Any]:
    """What the system's OTLP receiver took so far (exports and bytes per path), or why not known."""
    try:
        return dict(httpx.get(f"{otlp_url}/counts", timeout=10).json())
    except (httpx.HTTPError, ValueError) as exc:
        return {"error": str(exc)}


def start_systems(
    args: argparse.Namespace, ctx: systems.Context, stack: ExitStack, upstream: systems.Running
) -> tuple[dict[str, systems.Running], dict[str, dict[str, Any]]]:
    """Every system asked for, up and warmed; the status of each (ok, skipped or failed, and why)."""
    servers: dict[str, systems.Running] = {}
    status: dict[str, dict[str, Any]] = {}
    for name in args.names:
        log(f"starting {name} ...")
        try:
            server = upstream if name == "upstream" else stack.enter_context(systems.starter(name, args.workers)(ctx))
        except systems.Skip as exc:
            status[name] = {"status": "skipped", "reason": str(exc)}
            continue
        except (StartError, RuntimeError, OSError) as exc:
            status[name] = {"status": "failed to start", "reason": str(exc)[:800]}
            continue
        servers[name] = server
        status[name] = {"status": "ok", "reason": "", "version": server.version, "notes": server.notes}
        measure(name, server, min(8, max(args.level_list)), 1.0, args.load_generator)  # warm-up, discarded
    return servers, status


def interleaved_rounds(
    args: argparse.Namespace, servers: dict[str, systems.Running]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Chat rows and stream rows: for each round, each level, every system in turn, in the reverse order
    every other round (A B C, C B A, ...): a system measured right after another one reads a few percent
    higher or lower than in the opposite order (two gateway-bare builds, 8 rounds each way: +24 µs per
    request between them in one order, -5 µs in the other), and alternating cancels that out of the
    medians and ratios over an even number of rounds. A round's streams alternate the systems in
    slices of its stream run (compare/stream_slices.py)."""
    chat_rows: list[dict[str, Any]] = []
    stream_rows: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        in_turn = list(servers.items()) if round_ % 2 == 0 else list(reversed(servers.items()))
        for level in args.level_list:
            for name, server in in_turn:
                log(f"round {round_ + 1}/{args.rounds} chat c={level} {name}")
                chat_rows.append({"round": round_, **measure(name, server, level, args.seconds, args.load_generator)})
        streaming = [(n, s) for n, s in in_turn if s.streams]
        for level in args.stream_level_list:
            log(f"round {round_ + 1}/{args.rounds} stream c={level}: {args.stream_slices} slices per system")
            for row in stream_slices.measure_streams(streaming, level, args.stream_seconds, args.stream_slices):
                stream_rows.append({"round": round_, **row})
    return chat_rows, stream_rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    started_at = datetime.datetime.now(datetime.timezone.utc)
    json_path = args.json or DEFAULT_RESULTS / f"compare-{started_at:%Y%m%dT%H%M%SZ}.json"
    load_before = [round(x, 2) for x in os.getloadavg()]
    soaks: dict[str, dict[str, Any]] = {}
    profile_result: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="tfy-bench-") as work, ExitStack() as stack:
        ctx = systems.Context(
            repo=REPO,
            workdir=Path(work),
            python=sys.executable,
            upstream="",
            workers=args.workers,
            litellm_venv=args.litellm_venv,
            serve_help=serve_help(sys.executable, args.gateway_source),
            gateway_source=args.gateway_source,
        )
        upstream_port = free_port()
        upstream = stack.enter_context(systems.upstream(ctx, upstream_port, args.chunks, args.interval_ms))
        ctx.upstream, ctx.upstream_pid = f"http://127.0.0.1:{upstream_port}", upstream.pid
        servers, status = start_systems(args, ctx, stack, upstream)
        chat_rows, stream_rows = interleaved_rounds(args, servers)
        if args.profile in servers:
            log(f"profiling {args.profile} at c=32 for {args.profile_seconds} s")
            raw = json_path.with_suffix(".pyspy.txt")
            server = servers[args.profile]
            profile_result = {
                "system": args.profile,
                **profiled(server, args.profile_seconds, args.load_generator, raw),
            }
        for name, server in servers.items():
            if server.otlp_url is not None:
                status[name]["otlp_received"] = received(server.otlp_url)
        if not args.no_soak:
            for name in (name for name in args.soak_systems.split(",") if name in servers):
                log(f"soak {name}: {args.soak_rate}/s for {args.soak_seconds} s")
                soaks[name] = soak(servers[name], args.soak_rate, args.soak_seconds)
    peaks: dict[str, float] = {}
    for row in chat_rows:
        if row["concurrency"] == 256 and row.get("failure") is None:
            peaks[row["system"]] = max(peaks.get(row["system"], 0.0), row["rss_peak_mb"])
    result: dict[str, Any] = {
        "meta": {
            "started_at": started_at.isoformat(),
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "machine": procstat.machine(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "load_generator": args.load_generator,
            "rounds": args.rounds,
            "seconds": args.seconds,
            "stream_seconds": args.stream_seconds,
            "stream_slices": args.stream_slices,
            "levels": args.level_list,
            "stream_levels": args.stream_level_list,
            "upstream_stream": {"chunks": args.chunks, "interval_ms": args.interval_ms},
            "json_path": str(json_path),
            "gateway_source": str(args.gateway_source),
            "command": sys.argv,
        },
        "order": [name for name in args.names if name in servers],
        "systems": status,
        "chat_runs": chat_rows,
        "stream_runs": stream_rows,
        "chat": report.summarise(chat_rows, report.CHAT_FIELDS),
        "stream": report.summarise(stream_rows, report.STREAM_FIELDS),
        "ratios": {**report.ratios(chat_rows, report.RATIOS), **report.ratios(stream_rows, report.STREAM_RATIOS)},
        "peak_rss_mb_c256": peaks,
        "soak": soaks,
        "profile": profile_result,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    if not Path("/proc/self/stat").exists():
        print("error: bench_compare reads CPU time and RSS from /proc: run it on Linux", file=sys.stderr)
        return 2
    args = parse_args(argv)
    began = time.monotonic()
    result = run(args)
    report.print_report(result)
    print(f"took {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
