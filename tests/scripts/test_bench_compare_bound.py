"""bench_compare's share of the cores' bound: N workers on an N-core machine are held to what the cores
could serve if a request cost only what it is measured to cost in every process it runs through (server,
redis-server, OTLP receiver, upstream, load generator)."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest

from tests.helpers import REPO_ROOT


def load(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(REPO_ROOT / "scripts"))  # for its `compare` package
    spec = importlib.util.spec_from_file_location("bench_compare_bound", REPO_ROOT / "scripts" / "bench_compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROW = {
    "rps": 2700.0,
    "cpu_us_per_request": 500.0,
    "support_cpu_us_per_request": 90.0,
    "collector_cpu_us_per_request": 40.0,
    "upstream_cpu_us_per_request": 12.0,
    "loadgen_cpu_us_per_request": 38.0,
}


def test_every_process_a_request_runs_through_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    bench_compare = load(monkeypatch)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    # 680 µs a request in all: 2 cores serve at most 2,941 req/s; 2,700 is 91.8% of that
    assert bench_compare.share_of_core_bound(ROW) == pytest.approx(2700 / (2e6 / 680))
    # without the receiver's share the bound is higher and the same req/s a smaller share of it
    without = {**ROW, "collector_cpu_us_per_request": None}
    assert bench_compare.share_of_core_bound(without) == pytest.approx(2700 / (2e6 / 640))


def test_unknown_without_the_upstream_or_without_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    bench_compare = load(monkeypatch)
    assert bench_compare.share_of_core_bound({**ROW, "upstream_cpu_us_per_request": None}) is None
    assert bench_compare.share_of_core_bound({**ROW, "rps": 0.0}) is None


def test_the_report_prints_the_receiver_and_the_workers_share(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_compare = load(monkeypatch)
    report = bench_compare.report
    rows = [
        {"round": r, "system": system, "concurrency": 32, "failure": None, "errors": {}, "requests": 10, **ROW}
        for r in range(2)
        for system in ("gateway-all", "gateway-workers")
    ]
    for row in rows:
        row.update(p50_ms=1.0, p90_ms=1.0, p99_ms=1.0, rss_peak_mb=1.0, machine_busy=0.9)
        row["share_of_core_bound"] = 0.9 if row["round"] == 0 else 0.8
    result = {"order": ["gateway-all", "gateway-workers"], "chat": report.summarise(rows, report.CHAT_FIELDS)}
    report._print_chat(result)
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "+ redis-server 90 µs/req; + OTLP receiver 40 µs/req" in lines["gateway-all"]
    assert "core bound" not in lines["gateway-all"]  # one worker cannot use every core
    assert "85.0% [80.0-90.0] of the" in lines["gateway-workers"]
