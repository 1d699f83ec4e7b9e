"""Data-plane benchmark: requests/s and latency, direct to the fake provider vs through the gateway.

Starts two real processes on free loopback ports (the fake provider, and `python -m tfy_gateway
serve` with TFY_GATEWAY_ADMIN_TOKEN), applies a provider account pointing at the fake provider,
then drives both with an aiohttp load loop in this process: non-streaming chat at concurrency 1
and 32, and one streaming figure. Prints a table. Figures, not assertions: compare between commits
on an idle machine (the load generator shares the CPU with both servers).

    python scripts/bench_gateway.py [--seconds 3] [--concurrency 1,32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

PROMPT = {"role": "user", "content": "benchmark"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextmanager
def process(command: list[str], health_url: str, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_up(health_url, proc)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def load(url: str, headers: dict[str, str], body: dict, concurrency: int, seconds: float) -> dict[str, float]:
    """Keep `concurrency` requests in flight for `seconds`; latency of every completed request."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm up the connection pool (and the servers) before measuring.
        for _ in range(concurrency * 2):
            async with session.post(url, json=body, headers=headers) as response:
                await response.read()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.post(url, json=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        continue
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    if not latencies:
        return {"rps": 0.0, "p50": 0.0, "p99": 0.0, "errors": float(errors)}
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": float(errors),
    }


def bench_account(name: str, fake: str) -> dict[str, Any]:
    """A provider account whose one model, `<name>/gpt-4o`, is answered by the fake provider."""
    return {
        "name": name,
        "type": "provider-account/openai",
        "base_url": f"{fake}/v1",
        "auth_data": {"type": "api-key", "api_key": "sk-bench-not-a-secret"},
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


def apply(gateway: str, token: str, manifest: dict[str, Any]) -> None:
    response = httpx.put(
        f"{gateway}/api/svc/v1/apply",
        json={"manifest": manifest, "dryRun": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"apply {manifest['type']} {manifest.get('name')}: {response.status_code} {response.text}")


@dataclass(frozen=True)
class Stack:
    fake: str
    gateway: str
    token: str


@contextmanager
def local_stack() -> Iterator[Stack]:
    """A fake provider and a gateway (`python -m tfy_gateway serve`) on free ports, stopped on exit."""
    fake_port, gateway_port = free_port(), free_port()
    stack = Stack(
        f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{gateway_port}", "tfy_bench_" + secrets.token_hex(16)
    )
    python = sys.executable
    fake_cmd = [python, "-m", "tfy_gateway", "fake-provider", "--port", str(fake_port), "--record-requests", "0"]
    with tempfile.TemporaryDirectory() as data_dir:
        gateway_cmd = [python, "-m", "tfy_gateway", "serve", "--port", str(gateway_port)]
        gateway_cmd += ["--data-dir", str(Path(data_dir) / "data"), "--log-level", "warning"]
        with (
            process(fake_cmd, f"{stack.fake}/health"),
            process(
                gateway_cmd, f"{stack.gateway}/api/svc/v1/min-cli-version", {"TFY_GATEWAY_ADMIN_TOKEN": stack.token}
            ),
        ):
            yield stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per row (default 3)")
    parser.add_argument("--concurrency", default="1,32", help="comma-separated concurrency levels (default 1,32)")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    with local_stack() as stack:
        apply(stack.gateway, stack.token, bench_account("bench", stack.fake))
        direct = (f"{stack.fake}/v1/chat/completions", {"Authorization": "Bearer sk-bench"}, "gpt-4o")
        through = (
            f"{stack.gateway}/api/llm/chat/completions",
            {"Authorization": f"Bearer {stack.token}"},
            "bench/gpt-4o",
        )
        rows = []
        for concurrency in levels:
            for label, (url, headers, model) in (("direct", direct), ("gateway", through)):
                body = {"model": model, "messages": [PROMPT], "max_tokens": 16}
                result = asyncio.run(load(url, headers, body, concurrency, args.seconds))
                rows.append(("chat", label, concurrency, result))
        for label, (url, headers, model) in (("direct", direct), ("gateway", through)):
            body = {"model": model, "messages": [PROMPT], "max_tokens": 16, "stream": True}
            result = asyncio.run(load(url, headers, body, levels[-1], args.seconds))
            rows.append(("chat stream", label, levels[-1], result))
    print(f"{'kind':<12} {'path':<8} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for kind, label, concurrency, result in rows:
        print(
            f"{kind:<12} {label:<8} {concurrency:>4} {result['rps']:>9.0f} {result['p50']:>8.2f} "
            f"{result['p99']:>8.2f} {result['errors']:>6.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
