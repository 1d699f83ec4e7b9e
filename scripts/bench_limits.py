"""Rate-limit and budget overhead: µs per admission (reserve + settle) in process, and req/s and latency
through a real gateway with every example limit on vs none.

Part 1 runs in process (no I/O): `Limiter.reserve` + `settle_now` over the in-memory store (CPU per
admission, the least of `--rounds` runs) for a request that meets no rule, the example rules
(examples/rate-limits.yaml and budgets.yaml), and the example rules behind 1,000 per-team rules. Part
2 starts the fake provider and `tfy-gateway serve` (as scripts/bench_gateway.py does) and drives
non-streaming chat with no limits, then with every example rate-limit and budget rule applied (limits
raised a millionfold so that nothing is refused: the figure is the cost of checking, not of refusing).
Figures, not assertions.

    python scripts/bench_limits.py [--iterations 20000] [--rounds 5] [--seconds 3] [--concurrency 1,32] [--no-gateway]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import math
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tfy_gateway.gateway.accounting.cost import ModelPricing
from tfy_gateway.gateway.accounting.pricing import TokenPrice
from tfy_gateway.gateway.limits import Limiter, LimitPolicies, LimitRequest, MemoryLimitState, compile_policies
from tfy_gateway.gateway.snapshot import ConfigSnapshot, build_snapshot
from tfy_gateway.gateway.store import ResourceRecord
from tfy_gateway.manifests import manifest_key
from tfy_gateway.manifests.numbers import MAX_USD

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
GENEROUS = 1_000_000


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return document


def generous(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with every limit a millionfold (at most the gateway's ceiling, MAX_USD: above it a
    budget config no longer parses and was silently left out): rules match and count, nothing is refused."""
    rules = [{**rule, "limit_to": min(rule["limit_to"] * GENEROUS, int(MAX_USD))} for rule in manifest["rules"]]
    return {**manifest, "rules": rules}


def snapshot(manifests: list[dict[str, Any]]) -> ConfigSnapshot:
    records = []
    for manifest in manifests:
        kind, name = manifest_key(manifest)
        records.append(ResourceRecord(f"id-{name}", kind, name, manifest["type"], manifest, {}, "t", "t"))
    return build_snapshot(records, version=1, tenant="bench")


def per_team_rules(count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"team-{i}", "when": {"subjects": [f"team:t{i}"]}, "limit_to": 1_000, "unit": "requests_per_minute"}
        for i in range(count)
    ]


def in_process(iterations: int, rounds: int) -> None:
    rate_limits, budgets = generous(example("rate-limits.yaml")), generous(example("budgets.yaml"))
    crowded = {**rate_limits, "rules": per_team_rules(1_000) + rate_limits["rules"]}
    policies = {
        "no rules": LimitPolicies(),
        "example rules": compile_policies(snapshot([rate_limits, budgets])),
        "1,000 + example rules": compile_policies(snapshot([crowded, budgets])),
    }
    body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "benchmark"}], "max_tokens": 64}
    pricing = ModelPricing(TokenPrice(input=0.0025, output=0.01))
    requests = {
        "user, 2 rules (rpm + $/day)": LimitRequest(
            "openai-main/gpt-4o", "user:dev@example.com", ("user:dev@example.com", "team:everyone"), body=body,
            pricing=pricing,
        ),
        "team, tokens + metadata": LimitRequest(
            "openai-main/gpt-4o", "user:eng@example.com",
            ("user:eng@example.com", "team:backend", "team:engineering", "team:everyone"),
            {"project_id": "p1", "environment": "production"}, body, pricing=pricing,
        ),
    }  # fmt: skip

    async def per_request_us(policy: LimitPolicies, request: LimitRequest) -> float:
        """CPU per reserve + settle (settled at once, as the data plane settles the in-memory store):
        the least of `rounds` runs, steady while other processes load the machine."""
        limiter = Limiter(MemoryLimitState())

        async def run(count: int) -> None:
            for _ in range(count):
                held = await limiter.reserve(policy, request)
                if held is not None:
                    limiter.settle_now(held, release=False, tokens=40, cost=0.0004)

        await run(1_000)
        best = math.inf
        for _ in range(rounds):
            started = time.process_time()
            await run(iterations)
            best = min(best, (time.process_time() - started) / iterations * 1e6)
        return best

    print(f"{'reserve + settle, CPU (least of ' + str(rounds) + ')':<30}" + "".join(f"{name:>24}" for name in policies))
    for label, request in requests.items():
        row = [asyncio.run(per_request_us(policy, request)) for policy in policies.values()]
        print(f"{label:<30}" + "".join(f"{us:>21.2f} µs" for us in row))


def through_gateway(seconds: float, levels: list[int]) -> None:
    sys.path.insert(0, str(HERE))
    harness = importlib.import_module("bench_gateway")  # the data-plane benchmark's process/load helpers
    apply, bench_account, load = harness.apply, harness.bench_account, harness.load

    with harness.local_stack() as stack:
        gateway, token = stack.gateway, stack.token
        account = bench_account("bench", stack.fake)
        account["integrations"][0]["cost"] = {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01}}
        apply(gateway, token, account)
        url, headers = f"{gateway}/api/llm/chat/completions", {"Authorization": f"Bearer {token}"}
        headers["x-tfy-metadata"] = '{"project_id": "p1", "environment": "production"}'
        body = {"model": "bench/gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
        rows = []
        for concurrency in levels:
            rows.append(("no limits", concurrency, asyncio.run(load(url, headers, body, concurrency, seconds))))
        for name in ("rate-limits.yaml", "budgets.yaml"):
            apply(gateway, token, generous(example(name)))
        for concurrency in levels:
            rows.append(("example limits", concurrency, asyncio.run(load(url, headers, body, concurrency, seconds))))
    print(f"\n{'through the gateway':<20} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for label, concurrency, result in rows:
        print(
            f"{label:<20} {concurrency:>4} {result['rps']:>8.0f} {result['p50']:>8.2f} {result['p99']:>8.2f} "
            f"{result['errors']:>6.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000, help="admissions per in-process run")
    parser.add_argument("--rounds", type=int, default=5, help="in-process runs per row; the least CPU is shown")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per gateway row (default 3)")
    parser.add_argument("--concurrency", default="1,32", help="comma-separated levels (default 1,32)")
    parser.add_argument("--no-gateway", action="store_true", help="only the in-process figures")
    args = parser.parse_args()
    in_process(args.iterations, args.rounds)
    if not args.no_gateway:
        through_gateway(args.seconds, [int(level) for level in args.concurrency.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
