"""Routing test helpers: snapshots built the way the gateway builds them, a hand-driven clock,
and a scripted upstream that records what `Router.execute` asked of it."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest
import yaml

from tests.helpers import EXAMPLES
from tfy_gateway.gateway.routing import (
    Attempt,
    CompiledRouting,
    Outcome,
    RoutePlan,
    Router,
    RouteRequest,
    compile_snapshot,
    explain,
)
from tfy_gateway.gateway.routing.settings import RoutingSettings
from tfy_gateway.gateway.snapshot import ConfigSnapshot, build_snapshot
from tfy_gateway.gateway.store import ResourceRecord
from tfy_gateway.manifests import manifest_key


def example(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]


def snapshot_of(manifests: Iterable[Mapping[str, Any]]) -> ConfigSnapshot:
    records = []
    for manifest in manifests:
        kind, name = manifest_key(dict(manifest))
        records.append(ResourceRecord(f"id-{name}", kind, name, str(manifest["type"]), dict(manifest), {}, "t", "t"))
    snapshot = build_snapshot(records, version=1, tenant="local")
    for resource in snapshot.resources.values():
        assert resource.model is not None, f"test manifest {resource.name} does not parse"
    return snapshot


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Upstream:
    """Answers each call from a per-target script (a list of Outcomes, the last one repeats)."""

    def __init__(self, script: Mapping[str, list[Outcome]] | None = None, default: Outcome | None = None) -> None:
        self.script = {target: list(outcomes) for target, outcomes in (script or {}).items()}
        self.default = default or Outcome(200)
        self.calls: list[Attempt] = []

    async def __call__(self, attempt: Attempt) -> Outcome:
        self.calls.append(attempt)
        outcomes = self.script.get(attempt.target)
        if not outcomes:
            return self.default
        return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class RouterUnderTest:
    """A `Router` with the rules it plans against, as the data plane pairs them for one request."""

    def __init__(self, router: Router, routing: CompiledRouting) -> None:
        self.router = router
        self.routing = routing

    def compile(self, snapshot: ConfigSnapshot) -> None:
        """What an apply does: new rules, the same router state (health, latency, pins)."""
        self.routing = compile_snapshot(snapshot)

    def plan(self, request: RouteRequest) -> RoutePlan:
        return self.router.plan(self.routing, request)

    def explain(self, request: RouteRequest) -> dict[str, Any]:
        return explain(self.router, self.routing, request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.router, name)  # execute, record, health, latency, backend, settings, clock


@pytest.fixture
def make_router(clock: Clock) -> Callable[..., RouterUnderTest]:
    def make(*manifests: Mapping[str, Any], seed: int = 7, settings: RoutingSettings | None = None) -> RouterUnderTest:
        router = Router(clock=clock, rng=random.Random(seed), settings=settings)
        tested = RouterUnderTest(router, CompiledRouting())
        tested.compile(snapshot_of([*example("provider-accounts.yaml"), *manifests]))
        return tested

    return make


def request(model: str = "openai/gpt-4o", *subjects: str, **kwargs: Any) -> RouteRequest:
    return RouteRequest(model, subjects or ("user:a@x", "team:everyone"), **kwargs)
