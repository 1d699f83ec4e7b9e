"""Validation speed on large manifests: a 10,000-rule config and a ~5 MB file (prints figures)."""

from __future__ import annotations

import time

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
    start = time.perf_counter()
    documents = load_text(text, "bench.yaml")
    loaded = time.perf_counter()
    findings = validate_documents(documents)
    done = time.perf_counter()
    print(f"{label:<28} {len(text) / 1e6:6.2f} MB  load {loaded - start:6.3f}s  "
          f"validate {done - loaded:6.3f}s  total {done - start:6.3f}s  findings {len(findings)}")  # fmt: skip


def main() -> None:
    measure("1,000 rules", routing_config(1_000))
    measure("10,000 rules", routing_config(10_000))
    docs = "\n---\n".join(routing_config(1000) for _ in range(max(1, 5_000_000 // len(routing_config(1000)) + 1)))
    measure("~5 MB, multi-document", docs)


if __name__ == "__main__":
    main()
