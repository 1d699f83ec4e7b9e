"""Shared-limit overhead: µs per admission (reserve + settle) with the counters in Redis on loopback,
beside the in-memory store, for two requests: the example rules (examples/rate-limits.yaml and
budgets.yaml; one rate limit and one budget) and every example limit manifest with the request
scripts/bench_compare.py sends (gateway-all's seven counters: two V1 rate limits, two V1 and three V2
budgets).

One request at a time (the latency a request pays: two round trips, reserve and settle) and 32 at a
time (what one gateway process can push through one Redis). Each cell is `--rounds` runs: the median
wall time, and the least CPU per admission in this process (the gateway's side: limiter, client,
sockets) and in redis-server (INFO cpu), shown in the Redis rows with the Redis commands per admission
(INFO commandstats: the EVALSHA calls and the commands the scripts run). Then redis-server's CPU per
script call, reserve and settlement apart: one request's calls replayed N times in one pipeline each
(the reservations first, each with its own hold marker, then their settlements), one operation per
call of the batch script and then `--group` per call (what a pipeline carries at concurrency), the
least of `--rounds`: the figure that moves with a script's own cost and hardly with the machine's
load. Starts its own `redis-server` on a free loopback port (no persistence) unless `--redis-url` is
given (then other clients of that server count too). Figures, not assertions.

    python scripts/bench_redis_limits.py [--iterations 20000] [--rounds 3] [--group 8] [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from tfy_gateway.gateway.accounting.cost import ModelPricing
from tfy_gateway.gateway.accounting.pricing import TokenPrice
from tfy_gateway.gateway.limits import (
    Limiter,
    LimitPolicies,
    LimitRequest,
    LimitState,
    MemoryLimitState,
    compile_policies,
    redis_batch,
    redis_scripts,
)
from tfy_gateway.gateway.limits.failover import FailoverLimitState
from tfy_gateway.gateway.limits.redis_state import RedisLimitState
from tfy_gateway.gateway.shared.redis import RedisLink

HERE = Path(__file__).resolve().parent
CONCURRENCY = (1, 32)
SCRIPT_CALLS = 3000


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server), or pass --redis-url")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen([*command, "--dir", directory], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit("redis-server did not start")
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait()


class ServerUsage:
    """redis-server's CPU seconds and commands run, read before and after a measurement."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def sample(self) -> tuple[float, int]:
        cpu = self.client.info("cpu")
        commands = self.client.info("commandstats")
        calls = sum(int(stats["calls"]) for name, stats in commands.items() if "info" not in name)
        return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]), calls


async def per_admission(
    state: LimitState,
    policy: LimitPolicies,
    request: LimitRequest,
    iterations: int,
    concurrency: int,
    usage: ServerUsage,
) -> tuple[float, float, float, float]:
    """Per admission: wall µs, CPU µs in this process and in redis-server, Redis commands."""
    limiter = Limiter(state)

    async def worker(count: int) -> None:
        for _ in range(count):
            held = await limiter.reserve(policy, request)
            if held is not None:
                await limiter.settle(held, release=False, tokens=40, cost=0.0004)

    await worker(500)  # warm up: connections, scripts loaded
    total = iterations // concurrency * concurrency
    server = usage.sample()
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(iterations // concurrency) for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    server_cpu, commands = (after - before for after, before in zip(usage.sample(), server, strict=True))
    return wall / total * 1e6, cpu / total * 1e6, server_cpu / total * 1e6, commands / total


Recorded = tuple[str, Any, list[str], list[str | int], dict[str, Any]]
"""A script call: operation, script, keys, arguments, and how it joins the batch script (op, shared)."""


class Recorder:
    """Stands in for a `RedisLimitState`'s batcher: keeps each script call and sends it on."""

    def __init__(self, batcher: Any) -> None:
        self.batcher = batcher
        self.calls: list[Recorded] = []

    async def call(self, operation: str, script: Any, keys: list[str], args: list[str | int], **options: Any) -> Any:
        joins = {name: options[name] for name in ("op", "shared") if options.get(name) is not None}
        self.calls.append((operation, script, list(keys), list(args), joins))
        return await self.batcher.call(operation, script, keys, args, **options)


async def recorded_calls(link: RedisLink, policy: LimitPolicies, request: LimitRequest) -> list[Recorded]:
    """One admission's script calls (a reserve holding something, then its settlement)."""
    state = RedisLimitState(link, prefix="bench-scripts")
    recorder = Recorder(state._batcher)  # a bench may look inside: it records what the state sends
    state._batcher = recorder  # type: ignore[assignment]
    held = await Limiter(state).reserve(policy, request)
    assert held is not None
    await Limiter(state).settle(held, release=False, tokens=40, cost=0.0004)
    return recorder.calls


def script_costs(url: str, calls: list[Recorded], count: int, rounds: int, group: int = 1) -> dict[str, float]:
    """redis-server CPU µs per recorded call, pipelined `count` at a time (operations of the batch
    script `group` to a call of it), least of `rounds`. Every replayed reservation gets its own hold
    marker (the last key), and its settlement names it."""
    client = redis.Redis.from_url(url)
    usage = ServerUsage(url)
    best: dict[str, float] = {}
    alone = {"r": client.register_script(redis_scripts.RESERVE), "a": client.register_script(redis_scripts.ADJUST)}
    for script in alone.values():
        client.script_load(script.script)
    try:
        for round_ in range(rounds):
            markers = [f"{{limits}}#bench-hold:{time.time_ns()}.{round_}.{i}" for i in range(count)]
            for operation, script, keys, args, joins in calls:
                client.script_load(script.script)
                pipe = client.pipeline(transaction=False)
                size = group if joins else 1
                for start in range(0, count, size):
                    # what the batcher would send for `size` such calls in one pipeline
                    replayed = [
                        redis_batch._Call(  # a bench may look inside: it builds the batcher's commands
                            operation, script, [*keys[:-1], marker] if keys and "#hold:" in keys[-1] else keys,
                            args, joins.get("op"), joins.get("shared"), None, 0.0,  # type: ignore[arg-type]
                        )
                        for marker in markers[start : start + size]
                    ]  # fmt: skip
                    for command in redis_batch._commands(replayed, alone):
                        pipe.execute_command(*command.command)
                before = usage.sample()[0]
                pipe.execute()
                cpu = (usage.sample()[0] - before) / count * 1e6
                best[operation] = min(cpu, best.get(operation, cpu))
    finally:
        client.close()
        usage.client.close()
    return best


def requests() -> dict[str, tuple[LimitPolicies, LimitRequest]]:
    bench = importlib.import_module("bench_limits")
    manifests = importlib.import_module("compare.manifests")
    body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "benchmark"}], "max_tokens": 64}
    pricing = ModelPricing(TokenPrice(input=0.0025, output=0.01))
    examples = [bench.generous(bench.example("rate-limits.yaml")), bench.generous(bench.example("budgets.yaml"))]
    every = [
        manifests.benchmarkable(manifest, "http://upstream")
        for manifest in manifests.load_examples(HERE.parent / "examples")
        if "rate-limit" in str(manifest.get("type")) or "budget" in str(manifest.get("type"))
    ]
    admin = "user:admin@local"  # the bench's caller: the admin token
    return {
        "example rules (2 counters)": (
            compile_policies(bench.snapshot(examples)),
            LimitRequest(
                "openai-main/gpt-4o", "user:dev@example.com", ("user:dev@example.com", "team:everyone"), body=body,
                pricing=pricing,
            ),
        ),
        "every example limit (7 counters)": (
            compile_policies(bench.snapshot(every)),
            LimitRequest(
                manifests.ROUTED_MODEL, admin, (admin, "team:everyone"), body=body, pricing=pricing,
                metadata={"project_id": "pilot-42", "environment": "production"},
            ),
        ),
    }  # fmt: skip


async def measure(url: str, iterations: int, rounds: int, group: int) -> None:
    usage = ServerUsage(url)
    link = RedisLink(url, timeout_s=1.0)
    try:
        print(f"{'reserve + settle, µs per admission':<42}" + "".join(f"{f'{c} at a time':>28}" for c in CONCURRENCY))
        for label, (policy, request) in requests().items():
            print(label)
            stores: dict[str, LimitState] = {
                "memory": MemoryLimitState(),
                "redis (loopback)": FailoverLimitState(RedisLimitState(link, prefix="bench")),
            }
            for name, state in stores.items():
                cells = []
                details: list[str] = []
                for concurrency in CONCURRENCY:
                    runs = [
                        await per_admission(state, policy, request, iterations, concurrency, usage)
                        for _ in range(rounds)
                    ]
                    # The median wall time; the least CPU (steady while other processes load the machine).
                    wall = sorted(run[0] for run in runs)[len(runs) // 2]
                    cpu, redis_cpu = min(run[1] for run in runs), min(run[2] for run in runs)
                    commands = runs[-1][3]
                    cells.append(f"{wall:.1f} ({1e6 / wall:,.0f}/s)")
                    details.append(f"{cpu:.1f} + {redis_cpu:.1f}, {commands:.0f} cmds")
                print(f"  {name:<40}" + "".join(f"{cell:>28}" for cell in cells))
                if name.startswith("redis"):
                    print(f"  {'  CPU here + redis-server, commands':<40}" + "".join(f"{d:>28}" for d in details))
        for size in sorted({1, group}):
            print(f"redis-server CPU per script call, {SCRIPT_CALLS} pipelined, {size} to a batch, least of {rounds}")
            for label, (policy, request) in requests().items():
                calls = await recorded_calls(link, policy, request)
                costs = await asyncio.to_thread(script_costs, url, calls, SCRIPT_CALLS, rounds, size)
                print(f"  {label:<40}" + "".join(f"{f'{op} {cpu:.1f} µs':>28}" for op, cpu in costs.items()))
    finally:
        await link.aclose()
        usage.client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs per cell: median wall time, least CPU")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--group", type=int, default=8, help="operations per batch-script call in the replay")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    if args.redis_url:
        asyncio.run(measure(args.redis_url, args.iterations, args.rounds, args.group))
        return
    with redis_server() as url:
        asyncio.run(measure(url, args.iterations, args.rounds, args.group))


if __name__ == "__main__":
    main()
