"""bench_compare's rounds go through the systems in alternating order (A B C, C B A, ...), so that a
system's place in the round does not bias its figures or its ratios to the floor."""

from __future__ import annotations

import argparse
import importlib.util
from types import SimpleNamespace
from typing import Any

import pytest

from tests.helpers import REPO_ROOT


def load_bench_compare(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(REPO_ROOT / "scripts"))  # for its `compare` package
    spec = importlib.util.spec_from_file_location(
        "bench_compare_under_test", REPO_ROOT / "scripts" / "bench_compare.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_other_round_runs_the_systems_in_reverse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chat runs alternate by round; a round's streams alternate stream by stream at c=1 and by slice
    at higher concurrency, starting in the round's order."""
    bench_compare = load_bench_compare(monkeypatch)
    loadgen = bench_compare.loadgen
    measured: list[tuple[int, str, str]] = []

    def measure(name: str, server: Any, level: int, seconds: float, generator: str) -> dict[str, Any]:
        measured.append((level, name, "chat"))
        return {"system": name}

    def one_slice(server: Any, level: int, seconds: float, pooled: Any) -> None:
        assert seconds == 0.5  # the stream run (1 s) in two slices
        measured.append((level, server.name, "slice"))
        pooled.samples.add(loadgen.Samples(latencies=[0.02], ttfts=[0.001], requests=1, seconds=seconds))

    def alternating(targets: list[Any], seconds: float) -> list[Any]:
        assert seconds == 1.0
        measured.extend((1, target, "in turn") for target in targets)
        return [loadgen.Samples(latencies=[0.02] * 2, ttfts=[0.002] * 2, requests=2, seconds=1.0) for _ in targets]

    monkeypatch.setattr(bench_compare, "measure", measure)
    monkeypatch.setattr(bench_compare.stream_slices, "_slice", one_slice)
    monkeypatch.setattr(loadgen, "alternating_streams", alternating)
    args = argparse.Namespace(
        rounds=3,
        level_list=[1, 32],
        stream_level_list=[1, 32],
        seconds=1.0,
        stream_seconds=1.0,
        stream_slices=2,
        load_generator="wrk",
    )
    names = ("floor", "gateway-bare", "gateway-all")
    servers = {name: SimpleNamespace(streams=True, name=name, pid=0, support_pids=[], target=name) for name in names}
    monkeypatch.setattr(bench_compare.stream_slices.procstat, "tree", lambda pid: [])
    chat, streams = bench_compare.interleaved_rounds(args, servers)
    forward, backward = ["floor", "gateway-bare", "gateway-all"], ["gateway-all", "gateway-bare", "floor"]
    expected: list[tuple[int, str, str]] = []
    for order, reverse in ((forward, backward), (backward, forward), (forward, backward)):
        expected += [(level, name, "chat") for level in (1, 32) for name in order]
        expected += [(1, name, "in turn") for name in order]
        expected += [(32, name, "slice") for name in order + reverse]
    assert measured == expected
    assert [row["round"] for row in chat] == [0] * 6 + [1] * 6 + [2] * 6
    assert len(streams) == 18
    # Each row pools its system's samples of the round: two slices at c=32, two streams in turn at c=1.
    assert all(row["ok"] == 2 and row["failure"] is None for row in streams)
    assert {(row["concurrency"], row["slices"], row["ttft_p50_ms"]) for row in streams} == {(1, 0, 2.0), (32, 2, 1.0)}
