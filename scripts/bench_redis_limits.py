"""Shared-limit overhead: µs per admission (reserve + settle) with the counters in Redis on loopback,
beside the in-memory store, for the example rules (examples/rate-limits.yaml and budgets.yaml).

One request at a time (the latency a request pays: two round trips, reserve and settle) and 32 at a
time (what one gateway process can push through one Redis). Starts its own `redis-server` on a free
loopback port (no persistence) unless `--redis-url` is given. Figures, not assertions.

    python scripts/bench_redis_limits.py [--iterations 20000] [--redis-url redis://127.0.0.1:6379/0]
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

from tfy_gateway.gateway.accounting.cost import ModelPricing
from tfy_gateway.gateway.accounting.pricing import TokenPrice
from tfy_gateway.gateway.limits import (
    Limiter,
    LimitPolicies,
    LimitRequest,
    LimitState,
    MemoryLimitState,
    compile_policies,
)
from tfy_gateway.gateway.limits.failover import FailoverLimitState
from tfy_gateway.gateway.limits.redis_state import RedisLimitState
from tfy_gateway.gateway.shared.redis import RedisLink

HERE = Path(__file__).resolve().parent


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


async def per_request_us(
    state: LimitState, policy: LimitPolicies, request: LimitRequest, iterations: int, concurrency: int
) -> float:
    limiter = Limiter(state)

    async def one() -> None:
        held = await limiter.reserve(policy, request)
        if held is not None:
            await limiter.settle(held, release=False, tokens=40, cost=0.0004)

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    await worker(500)  # warm up: connections, scripts loaded
    started = time.perf_counter()
    await asyncio.gather(*(worker(iterations // concurrency) for _ in range(concurrency)))
    return (time.perf_counter() - started) / (iterations // concurrency * concurrency) * 1e6


async def measure(url: str, iterations: int) -> None:
    bench = importlib.import_module("bench_limits")
    rate_limits, budgets = (
        bench.generous(bench.example("rate-limits.yaml")),
        bench.generous(bench.example("budgets.yaml")),
    )
    policy = compile_policies(bench.snapshot([rate_limits, budgets]))
    body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "benchmark"}], "max_tokens": 64}
    pricing = ModelPricing(TokenPrice(input=0.0025, output=0.01))
    request = LimitRequest(
        "openai-main/gpt-4o", "user:dev@example.com", ("user:dev@example.com", "team:everyone"), body=body,
        pricing=pricing,
    )  # fmt: skip
    link = RedisLink(url, timeout_s=1.0)
    try:
        stores: dict[str, LimitState] = {
            "memory": MemoryLimitState(),
            "redis (loopback)": FailoverLimitState(RedisLimitState(link, prefix="bench")),
        }
        print(f"{'reserve + settle, example rules':<34}{'1 at a time':>16}{'32 at a time':>16}")
        for name, state in stores.items():
            alone = await per_request_us(state, policy, request, iterations, 1)
            crowd = await per_request_us(state, policy, request, iterations, 32)
            print(f"{name:<34}{alone:>13.1f} µs{crowd:>13.1f} µs   ({1e6 / crowd:,.0f} admissions/s)")
    finally:
        await link.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    if args.redis_url:
        asyncio.run(measure(args.redis_url, args.iterations))
        return
    with redis_server() as url:
        asyncio.run(measure(url, args.iterations))


if __name__ == "__main__":
    main()
