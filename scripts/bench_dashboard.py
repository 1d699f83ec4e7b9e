"""How long each dashboard page takes to render with many request logs in the store.

Fills a fresh data dir (or, with `--database-url`, a fresh PostgreSQL database) with `--records`
request logs spread over the last 30 days (20 users in 5 teams, 6 models, 50 values of metadata
`project_id`, 5% errors, routing and limit rule ids), applies the example configs, then asks for
every page `--runs` times through the app in this process (Starlette's TestClient: no network) and
prints each page's median and worst time in milliseconds, and its size. Figures, not assertions.

    python scripts/bench_dashboard.py [--records 100000] [--runs 5] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from starlette.testclient import TestClient

from tfy_gateway.gateway.app import create_app
from tfy_gateway.gateway.request_logs import LogRecord, log_backend
from tfy_gateway.gateway.request_logs.schema import LOGS_FILE
from tfy_gateway.gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["openai-main/gpt-4o", "openai-main/gpt-4o-mini", "azure-backup/gpt-4o", "anthropic-main/claude-sonnet",
          "openai-main/text-embedding-3-small", "self-hosted/llama"]  # fmt: skip
PAGES = [
    "/ui?window=hour",
    "/ui?window=day",
    "/ui?window=month&key=project_id",
    "/ui/logs",
    "/ui/logs?status=error&team=team-2&since=7d",
    "/ui/logs?metadata=project_id:p-7",
    "/ui/logs/{log}",
    "/ui/limits",
    "/ui/config",
    "/ui/config/resource?kind=gateway-rate-limiting-config&name=gateway-rate-limiting-config",
]


def records(count: int, now: float) -> list[LogRecord]:
    rng = random.Random(7)
    out = []
    # Written in time order, as a gateway writes them (the table's order then follows the time index).
    times = sorted(now - rng.random() * 30 * 86400 for _ in range(count))
    for n, created_at in enumerate(times):
        user = rng.randrange(20)
        model = rng.choice(MODELS)
        status = 429 if rng.random() < 0.03 else (500 if rng.random() < 0.02 else 200)
        out.append(
            LogRecord(
                id=f"bench-{n:07d}",
                created_at=created_at,
                subject=f"user:user{user}@example.com",
                token_name="default",
                endpoint="chat",
                requested_model=model,
                resolved_model=model if status == 200 else None,
                status=status,
                latency_ms=rng.uniform(50, 900),
                prompt_tokens=rng.randrange(10, 2000),
                completion_tokens=rng.randrange(0, 800),
                cost=rng.uniform(0, 0.02) if status == 200 else None,
                metadata={"project_id": f"p-{rng.randrange(50)}", "env": rng.choice(["prod", "dev"])},
                rule_ids=["route-gpt-4o"] if "gpt-4o" in model else [],
                tries=[[model, status]],
                limits={"rate_limit": "global-fallback", "budgets": ["user-daily-budget"]},
                teams=[f"team-{user % 5}"],
            )
        )
    return out


def fill(data_dir: Path, database_url: str | None, count: int) -> str:
    """Write the records (1,000 per transaction); returns one record's id."""
    backend = log_backend(data_dir / LOGS_FILE, database_url)
    backend.open()
    try:
        batch = records(count, time.time())
        for start in range(0, len(batch), 1000):
            backend.insert([record.to_row() for record in batch[start : start + 1000]])
    finally:
        backend.close()
    return batch[0].id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    token = "tfy_bench_" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="tfy-bench-dashboard-") as scratch:
        data_dir = Path(scratch) / "data"
        settings = GatewaySettings(data_dir=data_dir, admin_token=token, database_url=args.database_url)
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
            headers = {"authorization": f"Bearer {token}"}
            for path in sorted((ROOT / "examples").glob("*.yaml")):
                for document in yaml.safe_load_all(path.read_text()):
                    for manifest in document if isinstance(document, list) else [document]:
                        client.put("/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False}, headers=headers)
            started = time.perf_counter()
            log_id = fill(data_dir, args.database_url, args.records)
            print(f"{args.records:,} request logs written in {time.perf_counter() - started:.1f} s "
                  f"({'PostgreSQL' if args.database_url else 'SQLite'})")  # fmt: skip
            print(f"{'page':<90} {'median ms':>9} {'max ms':>8} {'KB':>6}")
            for page in PAGES:
                path = page.format(log=log_id)
                times, size = [], 0
                for _ in range(args.runs + 1):  # the first run warms caches up and is not counted
                    begun = time.perf_counter()
                    response = client.get(path, headers=headers)
                    times.append((time.perf_counter() - begun) * 1000)
                    assert response.status_code == 200, (path, response.status_code, response.text[:300])
                    size = len(response.content)
                counted = times[1:]
                print(f"{path:<90} {statistics.median(counted):>9.1f} {max(counted):>8.1f} {size / 1024:>6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
