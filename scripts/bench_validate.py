"""Validation speed: a one-rule `tfy-gateway validate` as a user runs it (a new process: imports included),
and in process a 10,000-rule config and a ~5 MB file (prints figures: wall time, and CPU time, which a
busy machine inflates less)."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tfy_gateway.manifests import load_text, validate_documents


def routing_config(rules: int) -> str:
    manifest = {
        "name": "big",
        "type": "gateway-load-balancing-config",
        "rules": [
            {
                "id": f"rule-{i}",
                "type": "weight-based-routing",
                "when": {"subjects": [f"team:t{i}"], "models": [f"m{i % 50}"], "metadata": {"env": f"e{i % 7}"}},
                "load_balance_targets": [
                    {"target": f"acct{i % 10}/model-a", "weight": 70,
                     "retry_config": {"attempts": 2, "delay": 100, "on_status_codes": ["429", "500"]}},
                    {"target": f"acct{i % 10}/model-b", "weight": 30, "fallback_status_codes": ["500", "503"]},
                ],
            }
            for i in range(rules)
        ],
    }  # fmt: skip
    return yaml.safe_dump(manifest, sort_keys=False)


def measure(label: str, text: str) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    documents = load_text(text, "bench.yaml")
    loaded = time.perf_counter()
    findings = validate_documents(documents)
    done = time.perf_counter()
    print(f"{label:<28} {len(text) / 1e6:6.2f} MB  load {loaded - start:6.3f}s  "
          f"validate {done - loaded:6.3f}s  total {done - start:6.3f}s  (cpu {time.process_time() - cpu:.3f}s)  "
          f"findings {len(findings)}")  # fmt: skip


def one_rule_command(runs: int = 5) -> None:
    """`tfy-gateway validate` of a one-rule file in a new process: the best of `runs` (wall and CPU)."""
    rule = {"name": "limits", "type": "tenant-rate-limit-config/model", "limits": {"requests_per_minute": 5},
            "applies_to": {"type": "per-user"}, "mode": "enforce"}  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "one-rule.yaml"
        path.write_text(yaml.safe_dump(rule))
        best_wall = best_cpu = float("inf")
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "tfy_gateway", "validate", str(path)], capture_output=True, check=True
            )
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    print(f"{'one-rule validate command':<28} best of {runs}: wall {best_wall:.3f}s  cpu {best_cpu:.3f}s")


def main() -> None:
    one_rule_command()
    measure("1,000 rules", routing_config(1_000))
    measure("10,000 rules", routing_config(10_000))
    docs = "\n---\n".join(routing_config(1000) for _ in range(max(1, 5_000_000 // len(routing_config(1000)) + 1)))
    measure("~5 MB, multi-document", docs)


if __name__ == "__main__":
    main()
