"""Routing overhead: µs per `Router.plan()` (matching included) with every example rule applied vs
none, and req/s through a real gateway with and without a routing config.

Part 1 runs in process (no I/O): each row times one kind of request over many iterations. Part 2
starts the fake provider and `tfy-gateway serve` (as scripts/bench_gateway.py does) and drives
non-streaming chat at concurrency 32 for a model with no rule, then for the same model routed by
a 50/50 weight rule placed after every example rule. Figures, not assertions.

    python scripts/bench_routing.py [--iterations 50000] [--seconds 3] [--no-gateway]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import random
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tfy_gateway.gateway.routing import CompiledRouting, Outcome, Router, RouteRequest, compile_snapshot, explain
from tfy_gateway.gateway.snapshot import ConfigSnapshot, build_snapshot
from tfy_gateway.gateway.store import ResourceRecord
from tfy_gateway.manifests import manifest_key

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
ROUTING_EXAMPLES = ("routing-weighted.yaml", "routing-latency.yaml", "routing-priority.yaml", "routing-sticky.yaml")


def example(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]


def example_rules() -> list[dict[str, Any]]:
    """Every example rule in one config. The sticky rule goes first, narrowed to requests with
    metadata bench=sticky, so that it and the weighted rule (same model) are both reachable."""
    rules = [rule for name in ROUTING_EXAMPLES for doc in example(name) for rule in doc["rules"]]
    sticky = next(rule for rule in rules if "sticky_routing" in rule)
    rules.remove(sticky)
    return [{**sticky, "when": {**sticky["when"], "metadata": {"bench": "sticky"}}}, *rules]


def snapshot(manifests: list[dict[str, Any]]) -> ConfigSnapshot:
    records = []
    for manifest in manifests:
        kind, name = manifest_key(manifest)
        records.append(ResourceRecord(f"id-{name}", kind, name, manifest["type"], manifest, {}, "t", "t"))
    return build_snapshot(records, version=1, tenant="bench")


def synthetic_rules(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"r{i}",
            "type": "weight-based-routing",
            "when": {"subjects": [f"team:t{i}"], "models": [f"m{i % 50}", "openai/gpt-4o"]},
            "load_balance_targets": [
                {"target": "openai-main/gpt-4o", "weight": 70},
                {"target": "azure-backup/gpt-4o", "weight": 30},
            ],
        }
        for i in range(count)
    ]


def router_with(rules: list[dict[str, Any]]) -> tuple[Router, CompiledRouting]:
    router = Router(rng=random.Random(1))
    manifests = example("provider-accounts.yaml")
    if rules:
        manifests.append({"name": "bench", "type": "gateway-load-balancing-config", "rules": rules})
    return router, compile_snapshot(snapshot(manifests))


def per_call_us(fn: Any, iterations: int) -> float:
    for _ in range(min(iterations, 1000)):
        fn()
    started = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - started) / iterations * 1e6


def in_process(iterations: int) -> None:
    user = ("user:dev@example.com", "team:everyone")
    premium = ("user:p@example.com", "team:premium", "team:everyone")
    requests = {
        "weighted rule (70/30)": RouteRequest("openai/gpt-4o", user),
        "priority rule (team)": RouteRequest("openai-main/gpt-4o", premium),
        "sticky rule (header)": RouteRequest("openai/gpt-4o", user, {"bench": "sticky"}, {"x-user-id": "u-42"}),
        "no rule matches": RouteRequest("anthropic-main/claude-sonnet", user),
    }
    routers = {
        "no rules": router_with([]),
        "example rules": router_with(example_rules()),
        "example + 1,000 rules": router_with(synthetic_rules(1000) + example_rules()),
    }
    print(f"{'plan() per request':<24}" + "".join(f"{name:>24}" for name in routers))
    for label, request in requests.items():
        row = [per_call_us(lambda r=pair, q=request: r[0].plan(r[1], q), iterations) for pair in routers.values()]
        print(f"{label:<24}" + "".join(f"{us:>21.2f} µs" for us in row))

    async def through_execute(pair: tuple[Router, CompiledRouting], request: RouteRequest, count: int) -> float:
        router, routing = pair
        ok = Outcome(200, ttft_ms=100.0, tpot_ms=10.0)

        async def call(_: Any) -> Outcome:
            return ok

        started = time.perf_counter()
        for _ in range(count):
            await router.execute(router.plan(routing, request), call)
        return (time.perf_counter() - started) / count * 1e6

    row = [asyncio.run(through_execute(r, requests["weighted rule (70/30)"], iterations)) for r in routers.values()]
    print(f"{'plan()+execute() 1 try':<24}" + "".join(f"{us:>21.2f} µs" for us in row))
    router, routing = routers["example rules"]
    explain_us = per_call_us(lambda: explain(router, routing, requests["sticky rule (header)"]), 2000)
    print(f"explain() with the example rules: {explain_us:.1f} µs")


def through_gateway(seconds: float, concurrency: int) -> None:
    sys.path.insert(0, str(HERE))
    harness = importlib.import_module("bench_gateway")  # the data-plane benchmark's process/load helpers
    apply, bench_account, load = harness.apply, harness.bench_account, harness.load

    with harness.local_stack() as stack:
        gateway, token = stack.gateway, stack.token
        for manifest in example("provider-accounts.yaml"):
            apply(gateway, token, manifest)
        for name in ("bench", "bench2"):
            apply(gateway, token, bench_account(name, stack.fake))
        url, headers = f"{gateway}/api/llm/chat/completions", {"Authorization": f"Bearer {token}"}
        body = {"model": "bench/gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
        rows = [("no routing config", asyncio.run(load(url, headers, body, concurrency, seconds)))]
        split = {
            "id": "bench-split",
            "type": "weight-based-routing",
            "when": {"models": ["bench/gpt-4o"]},
            "load_balance_targets": [
                {"target": "bench/gpt-4o", "weight": 50},
                {"target": "bench2/gpt-4o", "weight": 50},
            ],
        }
        rules = [*example_rules(), split]
        apply(gateway, token, {"name": "bench", "type": "gateway-load-balancing-config", "rules": rules})
        rows.append((f"{len(rules)} rules, 50/50 split", asyncio.run(load(url, headers, body, concurrency, seconds))))
    print(f"\n{'through the gateway':<28} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for label, result in rows:
        print(
            f"{label:<28} {concurrency:>4} {result['rps']:>8.0f} {result['p50']:>8.2f} {result['p99']:>8.2f} "
            f"{result['errors']:>6.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50_000, help="plans per in-process row (default 50000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per gateway row (default 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--no-gateway", action="store_true", help="only the in-process figures")
    args = parser.parse_args()
    in_process(args.iterations)
    if not args.no_gateway:
        through_gateway(args.seconds, args.concurrency)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
