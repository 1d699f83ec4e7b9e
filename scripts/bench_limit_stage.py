"""The data plane's limits stage alone: `PolicyLimits.reserve` + `settle` of a real gateway-all request.

A gateway with every example manifest applied (as `bench_inprocess.py`'s gateway-all: V1 and V2 rate
limits and budgets, 7 counters for its request) answers a few requests in process; the context of the
last one is kept, and its reservation and settlement are then replayed in a loop: the CPU the limits
stage costs a request on its critical path (reserve) and after its answer (settle), with the real
policies, request shape, routing plan and catalog, and nothing else around it. Each run is a fresh
process; the figure is the least of `--batches` batches (steady on a loaded machine), per phase (the sum
of each call's `perf_counter_ns` over a batch) and for both together (thread CPU over a batch).
Runs alternate between the sources given, so a before/after pair sees the same machine.

    python scripts/bench_limit_stage.py [--sources server,../wt-old/server] [--rounds 3] [--batches 200]
        [--batch 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if "--child-source" in sys.argv[:-1]:
    sys.path.insert(0, sys.argv[sys.argv.index("--child-source") + 1])


async def stage(spec: dict[str, Any], batches: int, batch: int) -> dict[str, float]:
    import os

    os.environ.update(spec["env"])
    import bench_inprocess

    from tfy_gateway.gateway.app import create_app
    from tfy_gateway.gateway.data_plane.limiting import PolicyLimits
    from tfy_gateway.gateway.settings import GatewaySettings

    captured: list[Any] = []
    settle = PolicyLimits.settle

    def capturing(self: PolicyLimits, reservation: Any, request: Any) -> Any:
        captured[:] = [self, request]
        return settle(self, reservation, request)

    PolicyLimits.settle = capturing  # type: ignore[method-assign]
    settings = GatewaySettings(data_dir=Path(spec["data_dir"]), admin_token=spec["token"])
    app: Any = create_app(settings, tune_gc=True)
    headers, body = bench_inprocess.chat_request("gateway-all", spec["token"])
    async with app.router.lifespan_context(app):
        await bench_inprocess.drive(app, "/api/llm/chat/completions", headers, body, 200, 1)
        PolicyLimits.settle = settle  # type: ignore[method-assign]
        limits, request = captured
        reservation = await limits.reserve(request)
        counters = len(reservation.plan) if getattr(reservation, "plan", None) is not None else -1
        clock = time.perf_counter_ns
        best_reserve = best_settle = best_both = float("inf")
        for _ in range(batches):
            reserving = settling = 0
            started = time.thread_time()
            for _ in range(batch):
                t0 = clock()
                held = await limits.reserve(request)
                t1 = clock()
                pending = limits.settle(held, request)
                if pending is not None:
                    await pending
                t2 = clock()
                reserving += t1 - t0
                settling += t2 - t1
            best_both = min(best_both, (time.thread_time() - started) / batch * 1e6)
            best_reserve = min(best_reserve, reserving / batch / 1e3)
            best_settle = min(best_settle, settling / batch / 1e3)
    return {"counters": counters, "reserve_us": best_reserve, "settle_us": best_settle, "both_us": best_both}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=str(HERE.parent / "server"), help="comma-separated server/ dirs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(stage(json.loads(args.child), args.batches, args.batch))))
        return 0
    import bench_inprocess
    from compare.processes import raw_upstream

    sources = [str(Path(s).resolve()) for s in args.sources.split(",") if s]
    results: dict[str, list[dict[str, float]]] = {source: [] for source in sources}
    with tempfile.TemporaryDirectory(prefix="tfy-limit-stage-") as scratch, raw_upstream() as url:
        specs = {
            source: bench_inprocess.prepare("gateway-all", Path(scratch) / str(i), url, Path(source))
            for i, source in enumerate(sources)
        }
        for round_ in range(args.rounds):
            for source in sources:
                command = [sys.executable, __file__, "--child", json.dumps(specs[source]), "--child-source",
                           source, "--batches", str(args.batches), "--batch", str(args.batch)]  # fmt: skip
                done = subprocess.run(command, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    raise SystemExit(f"{source} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                results[source].append(result)
                print(
                    f"round {round_ + 1} {source}: {result['counters']} counters, reserve "
                    f"{result['reserve_us']:.1f} + settle {result['settle_us']:.1f} µs; both, CPU "
                    f"{result['both_us']:.1f} µs",
                    flush=True,
                )
    print(f"\nleast of {args.batches} batches of {args.batch}, median [min-max] of {args.rounds} runs")
    for source, runs in results.items():
        line = []
        for name in ("reserve_us", "settle_us", "both_us"):
            figures = [run[name] for run in runs]
            line.append(f"{name[:-3]} {statistics.median(figures):.1f} [{min(figures):.1f}-{max(figures):.1f}]")
        print(f"{source}: " + ", ".join(line) + " µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
