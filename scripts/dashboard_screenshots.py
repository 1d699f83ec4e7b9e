"""Screenshots of every dashboard page, from a real `tfy-gateway serve --offline` with real traffic.

Starts the gateway on a free loopback port in a temporary data dir, applies the example manifests
(`examples/*.yaml` but provider-accounts.yaml, which would point the offline accounts at the real
providers), then a second version of the rate-limit and budget configs with one tight rule each
(`DEMO_RATE_LIMIT`, `DEMO_BUDGET`), adds two users, and sends traffic that is rate limited (429s) and
crosses the budget's alert thresholds. Then Debian's chromium, driven by Playwright, logs in with the
admin token and saves one PNG per page. `references/dashboard.md` embeds the PNGs this writes to
`references/dashboard/` (the default); `tests/gateway/dashboard/test_browser.py` runs the same
scenario and checks the pages against the JSON APIs.

    python scripts/dashboard_screenshots.py [--out references/dashboard] [--chromium /usr/bin/chromium]

Needs the `chromium` Debian package (`apt-get install chromium`) and `playwright` (the dev extra);
Playwright's own browser download is never used.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare.processes import free_port, running  # noqa: E402

ROOT = HERE.parent
EXAMPLES = ROOT / "examples"
CHROMIUM = "/usr/bin/chromium"
# No first-run UI, no background traffic of the browser's own (updates, sync, field trials, QUIC probes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIPPED_EXAMPLES = {"provider-accounts.yaml"}  # would point the offline accounts at the real providers
MODEL = "openai-main/gpt-4o"
RATE_LIMITED = "dana@example.com"  # 3 requests a minute
BUDGETED = "erin@example.com"  # a tiny daily budget with alerts at 50% and 100%
HOSTILE_MODEL = "<script>alert('model')</script>"
HOSTILE_METADATA = '<img src=x onerror="alert(1)">'
DEMO_RATE_LIMIT = {
    "id": "dashboard-demo-rpm",
    "when": {"subjects": [f"user:{RATE_LIMITED}"]},
    "limit_to": 3,
    "unit": "requests_per_minute",
    "rate_limit_applies_per": ["user"],
}
DEMO_BUDGET = {
    "id": "dashboard-demo-daily",
    "when": {"subjects": [f"user:{BUDGETED}"]},
    "limit_to": 0.0004,
    "unit": "cost_per_day",
    "budget_applies_per": ["user"],
    "alerts": {
        "thresholds": [50, 100],
        "notification_target": [
            {"type": "email", "notification_channel": "budget-alerts", "to_emails": ["lead@example.com"]}
        ],
    },
}
PAGES = {  # file name -> path (after the scenario; `{log}` is a served request's id)
    "overview": "/ui?window=hour&key=project_id",
    "logs": "/ui/logs",
    "log-detail": "/ui/logs/{log}",
    "limits": "/ui/limits",
    "config": "/ui/config",
    "config-diff": "/ui/config/resource?kind=gateway-rate-limiting-config&name=gateway-rate-limiting-config",
    "login": "/ui/login",
}


@dataclass
class Gateway:
    """A running `serve --offline` process and who may call it."""

    base_url: str
    admin_token: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)  # user email -> PAT

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"authorization": f"Bearer {token or self.admin_token}"}, timeout=60
        )


@contextmanager
def serving(data_dir: Path) -> Iterator[Gateway]:
    """`python -m tfy_gateway serve --offline` on a free port until the block ends (SIGTERM)."""
    port, token = free_port(), "tfy_dashboard_" + secrets.token_hex(16)
    env: dict[str, str | None] = {"TFY_GATEWAY_ADMIN_TOKEN": token}
    env.update(dict.fromkeys(("TFY_HOST", "TFY_BASE_URL", "TFY_API_HOST", "TFY_API_KEY")))
    command = [sys.executable, "-m", "tfy_gateway", "serve", "--offline", "--port", str(port)]
    base_url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / "server.log"
    with running([*command, "--data-dir", str(data_dir)], f"{base_url}/health", log, env=env) as process:
        gateway = Gateway(base_url, token, data_dir, process)
        _wait_for_models(gateway)
        yield gateway


def _wait_for_models(gateway: Gateway, timeout: float = 90.0) -> None:
    """Until the offline starter accounts are applied (the gateway lists MODEL)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {gateway.process.returncode}; see server.log")
        try:
            with gateway.client() as client:
                models = client.get("/api/llm/models")
            if models.status_code == 200 and any(m["id"] == MODEL for m in models.json()["data"]):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the gateway did not list {MODEL} within {timeout} s")


def _apply(gateway: Gateway, manifest: dict[str, Any]) -> None:
    with gateway.client() as client:
        answer = client.put("/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False})
    answer.raise_for_status()


def example_manifests() -> list[dict[str, Any]]:
    """Every document of every example but provider-accounts.yaml, in file order (the routing examples
    replace each other: the load-balancing config gets a version per file)."""
    manifests: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name in SKIPPED_EXAMPLES:
            continue
        for document in yaml.safe_load_all(path.read_text()):
            manifests += document if isinstance(document, list) else [document]
    return manifests


def apply_examples(gateway: Gateway) -> None:
    """The examples through the apply API, then the tightened second versions of two of them."""
    for manifest in example_manifests():
        _apply(gateway, manifest)
    rate_limits = yaml.safe_load((EXAMPLES / "rate-limits.yaml").read_text())
    _apply(gateway, {**rate_limits, "rules": [DEMO_RATE_LIMIT, *rate_limits["rules"]]})
    budgets = yaml.safe_load((EXAMPLES / "budgets.yaml").read_text())
    _apply(gateway, {**budgets, "rules": [DEMO_BUDGET, *budgets["rules"]]})


def add_users(gateway: Gateway) -> None:
    for email, teams in ((RATE_LIMITED, ["backend"]), (BUDGETED, ["engineering"])):
        with gateway.client() as client:
            answer = client.post("/api/svc/v1/users", json={"email": email, "teams": teams})
        answer.raise_for_status()
        gateway.tokens[email] = answer.json()["token"]


def chat(gateway: Gateway, token: str, model: str = MODEL, **metadata: str) -> httpx.Response:
    headers = {"x-tfy-metadata": json.dumps(metadata)} if metadata else {}
    body = {"model": model, "messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 16}
    with gateway.client(token) as client:
        return client.post("/api/llm/chat/completions", json=body, headers=headers)


def send_traffic(gateway: Gateway) -> dict[str, list[int]]:
    """Requests from the admin, a rate-limited user and a budgeted one; the statuses per sender."""
    statuses: dict[str, list[int]] = {"admin": [], RATE_LIMITED: [], BUDGETED: []}
    for n in range(6):
        statuses["admin"].append(chat(gateway, gateway.admin_token, project_id=f"p-{n % 2}").status_code)
    statuses["admin"].append(chat(gateway, gateway.admin_token, HOSTILE_MODEL, note=HOSTILE_METADATA).status_code)
    logged = {"x-tfy-logging-config": '{"enabled": true}'}
    with gateway.client() as client:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "<b>logged</b> prompt"}], "max_tokens": 8}
        statuses["admin"].append(client.post("/api/llm/chat/completions", json=body, headers=logged).status_code)
    for _ in range(5):
        statuses[RATE_LIMITED].append(chat(gateway, gateway.tokens[RATE_LIMITED], project_id="p-0").status_code)
    for _ in range(4):
        statuses[BUDGETED].append(chat(gateway, gateway.tokens[BUDGETED], project_id="p-1").status_code)
    return statuses


def wait_for_alerts(gateway: Gateway, count: int = 2, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The budget alerts, once the outbox has stored `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        with gateway.client() as client:
            alerts: list[dict[str, Any]] = client.get("/api/svc/v1/llm-gateway/alerts").json()["data"]
        if len(alerts) >= count or time.monotonic() >= deadline:
            return alerts
        time.sleep(0.1)


def prepare(gateway: Gateway) -> dict[str, list[int]]:
    """The whole scenario on a fresh gateway: examples, users, traffic, alerts stored."""
    apply_examples(gateway)
    add_users(gateway)
    statuses = send_traffic(gateway)
    wait_for_alerts(gateway)
    return statuses


def launch(playwright: Any, profile: Path, chromium: str = CHROMIUM) -> Any:
    """A browser context of Debian's chromium (never a downloaded browser) with the fresh profile
    `profile` (an empty directory: Playwright passes it as --user-data-dir) and no background traffic."""
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium,
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1280, "height": 900},
    )


def log_in(page: Any, base_url: str, token: str) -> None:
    page.goto(f"{base_url}/ui/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/ui")


def served_log_id(gateway: Gateway) -> str:
    """A request that a routing rule served and that was charged to a rate limit and budgets."""
    with gateway.client() as client:
        records = client.get("/api/svc/v1/llm-gateway/logs", params={"status": "200", "limit": 50}).json()["data"]
    return str(next(r["id"] for r in records if r["limits"].get("budgets") and r["requested_model"] == MODEL))


def screenshots(gateway: Gateway, out: Path, chromium: str = CHROMIUM) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="tfy-chromium-") as profile:
        context = launch(playwright, Path(profile), chromium)
        try:
            page = context.new_page()
            page.goto(f"{gateway.base_url}/ui/login")
            path = out / "login.png"
            page.screenshot(path=str(path))
            written.append(path)
            log_in(page, gateway.base_url, gateway.admin_token)
            log_id = served_log_id(gateway)
            for name, target in PAGES.items():
                if name == "login":
                    continue
                page.goto(gateway.base_url + target.format(log=log_id))
                path = out / f"{name}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
        finally:
            context.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "references" / "dashboard")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tfy-dashboard-") as scratch, serving(Path(scratch) / "data") as gateway:
        statuses = prepare(gateway)
        print(f"traffic: {statuses}")
        for path in screenshots(gateway, args.out, args.chromium):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
