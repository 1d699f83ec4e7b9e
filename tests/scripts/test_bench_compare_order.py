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
    bench_compare = load_bench_compare(monkeypatch)
    measured: list[tuple[int, str, bool]] = []

    def measure(
        name: str, server: Any, level: int, seconds: float, generator: str, stream: bool = False
    ) -> dict[str, Any]:
        measured.append((level, name, stream))
        return {"system": name}

    monkeypatch.setattr(bench_compare, "measure", measure)
    args = argparse.Namespace(
        rounds=3, level_list=[1, 32], stream_level_list=[1], seconds=1.0, stream_seconds=1.0, load_generator="wrk"
    )
    servers = {name: SimpleNamespace(streams=True) for name in ("floor", "gateway-bare", "gateway-all")}
    chat, streams = bench_compare.interleaved_rounds(args, servers)
    forward, backward = ["floor", "gateway-bare", "gateway-all"], ["gateway-all", "gateway-bare", "floor"]
    expected: list[tuple[int, str, bool]] = []
    for order in (forward, backward, forward):
        expected += [(level, name, False) for level in (1, 32) for name in order]
        expected += [(1, name, True) for name in order]
    assert measured == expected
    assert [row["round"] for row in chat] == [0] * 6 + [1] * 6 + [2] * 6
    assert len(streams) == 9
