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
    """Chat runs alternate by round; a round's streams alternate by slice too, starting in the round's order."""
    bench_compare = load_bench_compare(monkeypatch)
    measured: list[tuple[int, str, bool]] = []

    def measure(name: str, server: Any, level: int, seconds: float, generator: str) -> dict[str, Any]:
        measured.append((level, name, False))
        return {"system": name}

    def one_slice(server: Any, level: int, seconds: float, pooled: Any) -> None:
        assert seconds == 0.5  # the stream run (1 s) in two slices
        measured.append((level, server.name, True))
        pooled.samples.add(bench_compare.loadgen.Samples(latencies=[0.02], ttfts=[0.001], requests=1, seconds=seconds))

    monkeypatch.setattr(bench_compare, "measure", measure)
    monkeypatch.setattr(bench_compare.stream_slices, "_slice", one_slice)
    args = argparse.Namespace(
        rounds=3,
        level_list=[1, 32],
        stream_level_list=[1],
        seconds=1.0,
        stream_seconds=1.0,
        stream_slices=2,
        load_generator="wrk",
    )
    names = ("floor", "gateway-bare", "gateway-all")
    servers = {name: SimpleNamespace(streams=True, name=name, support_pids=[]) for name in names}
    chat, streams = bench_compare.interleaved_rounds(args, servers)
    forward, backward = ["floor", "gateway-bare", "gateway-all"], ["gateway-all", "gateway-bare", "floor"]
    expected: list[tuple[int, str, bool]] = []
    for order, reverse in ((forward, backward), (backward, forward), (forward, backward)):
        expected += [(level, name, False) for level in (1, 32) for name in order]
        expected += [(1, name, True) for name in order + reverse]
    assert measured == expected
    assert [row["round"] for row in chat] == [0] * 6 + [1] * 6 + [2] * 6
    assert len(streams) == 9
    # Each row pools its system's two slices of the round.
    assert all(row["ok"] == 2 and row["seconds"] == 1.0 and row["slices"] == 2 for row in streams)
    assert all(row["ttft_p50_ms"] == 1.0 and row["failure"] is None for row in streams)
