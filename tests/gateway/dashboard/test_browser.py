"""The dashboard in a real headless browser (Debian's chromium driven by Playwright) against a real
`tfy-gateway serve --offline` process.

The scenario is scripts/dashboard_screenshots.py's (the example configs applied, then a second
version of the rate-limit and budget configs; traffic that is rate limited and crosses a budget's
alert thresholds). Each page's figures are checked against the JSON API that answers the same
question; every page is screenshotted into a temp dir; every request the browser makes must go to
the gateway itself. One gateway and one browser serve the whole module (the tests read, never write,
except the log-in/log-out of the user test, which uses a browser context of its own).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts import dashboard_screenshots as scenario
from tfy_gateway.gateway.dashboard.render import money, number
from tfy_gateway.manifests.diff import compute_diff

playwright_api = pytest.importorskip("playwright.sync_api")

if not os.path.exists(scenario.CHROMIUM):
    pytest.skip(f"{scenario.CHROMIUM} is missing: apt-get install chromium (.ci/run does)", allow_module_level=True)

SVC = "/api/svc/v1/llm-gateway"


class Browser:
    """One logged-in browser page, the URLs it requested, and any dialog a script opened."""

    def __init__(self, context: Any, base_url: str, shots: Path) -> None:
        self.context = context
        self.base_url = base_url
        self.shots = shots
        self.requested: list[str] = []
        self.dialogs: list[str] = []
        context.on("request", lambda request: self.requested.append(request.url))
        self.page = context.new_page()
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def open(self, path: str) -> Any:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        return response

    def figure(self, name: str, within: str = "body") -> str:
        return str(self.page.locator(f"{within} [data-figure={name}]").first.inner_text()).strip()

    def rows(self, table: str) -> dict[str | None, list[str]]:
        """data-key -> the cell texts of each body row of `table` (a CSS selector)."""
        found = self.page.locator(f"{table} tbody tr")
        return {
            found.nth(i).get_attribute("data-key"): found.nth(i).locator("td").all_inner_texts()
            for i in range(found.count())
        }

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="module")
def gateway() -> Iterator[scenario.Gateway]:
    with (
        tempfile.TemporaryDirectory(prefix="tfy-dashboard-test-") as scratch,
        scenario.serving(Path(scratch) / "data") as running,
    ):
        statuses = scenario.prepare(running)
        assert 429 in statuses[scenario.RATE_LIMITED], statuses  # the rate limit was hit
        assert statuses[scenario.BUDGETED][0] == 200, statuses
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with playwright_api.sync_playwright() as running:
        yield running


def _browser(playwright: Any, gateway: scenario.Gateway, shots: Path, token: str) -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(prefix="tfy-chromium-") as profile:
        context = scenario.launch(playwright, Path(profile))
        try:
            browser = Browser(context, gateway.base_url, shots)
            scenario.log_in(browser.page, gateway.base_url, token)
            yield browser
            outside = [url for url in browser.requested if not url.startswith(gateway.base_url + "/")]
            assert outside == [], f"the pages requested other hosts: {outside}"
            assert browser.dialogs == [], f"a script ran on a page: {browser.dialogs}"
        finally:
            context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-screenshots")


@pytest.fixture(scope="module")
def admin(playwright: Any, gateway: scenario.Gateway, shots: Path) -> Iterator[Browser]:
    yield from _browser(playwright, gateway, shots, gateway.admin_token)


def api(gateway: scenario.Gateway, path: str, token: str | None = None, **params: Any) -> Any:
    with gateway.client(token) as client:
        response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_logging_in_sets_a_strict_session_cookie_and_every_page_a_strict_csp(admin: Browser) -> None:
    (cookie,) = [c for c in admin.context.cookies() if c["name"] == "tfy_dashboard"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    response = admin.open("/ui")
    csp = response.headers["content-security-policy"]
    assert "script-src 'none'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert admin.page.locator("script").count() == 0


def test_overview_figures_are_the_usage_apis(admin: Browser, gateway: scenario.Gateway) -> None:
    admin.open("/ui?window=hour&key=project_id")
    window = admin.page.locator("#window")
    since, until = window.get_attribute("data-since"), window.get_attribute("data-until")
    summary = api(gateway, f"{SVC}/usage/summary", since=since, until=until, group_by="team")
    total = summary["total"]
    assert total["requests"] >= 17 and total["errors"] >= 4  # the scenario's traffic
    assert admin.figure("requests") == number(total["requests"])
    assert admin.figure("errors") == number(total["errors"])
    assert admin.figure("total_tokens") == number(total["total_tokens"])
    assert admin.figure("cost") == money(total["cost"])
    for field, rows in (("model", summary["by_model"]), ("subject", summary["by_subject"])):
        shown = admin.rows(f"table[data-breakdown={field}]")
        assert shown == {
            row[field]: [
                row[field],
                number(row["requests"]),
                number(row["errors"]),
                number(row["total_tokens"]),
                money(row["cost"]),
            ]
            for row in rows
        }
    teams = admin.rows("table[data-breakdown=team]")
    assert {team: cells[1] for team, cells in teams.items()} == {
        r["key"]: number(r["requests"]) for r in summary["by_team"]
    }
    projects = api(gateway, f"{SVC}/usage/summary", since=since, until=until, group_by="metadata:project_id")
    assert admin.page.locator("table[data-breakdown=metadata] tbody tr").count() == len(projects["by_metadata"]["data"])
    series = api(gateway, f"{SVC}/usage/series", since=since, until=until, bucket="60")
    assert admin.page.locator("figure.chart").first.locator("rect.bar:not(.overlay)").count() == len(series["data"])
    admin.shot("overview")


def test_a_log_entry_leads_to_its_detail(admin: Browser, gateway: scenario.Gateway) -> None:
    admin.open("/ui/logs?status=429")
    refused = api(gateway, f"{SVC}/logs", status="429", limit=100)
    assert admin.figure("total") == number(refused["pagination"]["total"]) and refused["pagination"]["total"] >= 3
    admin.shot("logs")
    served = scenario.served_log_id(gateway)
    admin.open(f"/ui/logs?since=1h&model={scenario.MODEL}")
    admin.page.locator(f"tr[data-log='{served}'] a").click()
    admin.page.wait_for_url(f"**/ui/logs/{served}")
    (record,) = api(gateway, f"{SVC}/logs", id=served)["data"]
    assert admin.figure("status") == "200" and admin.figure("served_by") == record["resolved_model"]
    assert admin.figure("rate_limit") == record["limits"]["rate_limit"]
    assert admin.figure("budgets") == ", ".join(record["limits"]["budgets"]) and "dashboard-demo-daily" in admin.figure(
        "budgets"
    )
    assert admin.figure("cost") == money(record["cost"])
    assert admin.page.locator("[data-figure=no-bodies]").count() == 1  # body logging was off for it
    admin.shot("log-detail")
    logged = next(r for r in api(gateway, f"{SVC}/logs", limit=100)["data"] if "request_body" in r)
    admin.open(f"/ui/logs/{logged['id']}")
    assert "<b>logged</b> prompt" in admin.figure("request_body")  # shown as text, not markup
    assert admin.page.locator("pre.body b").count() == 0


def test_limits_nearest_first_with_alerts_and_deliveries(admin: Browser, gateway: scenario.Gateway) -> None:
    admin.open("/ui/limits")
    first = admin.page.locator("table.limits tbody tr").first
    assert first.locator("[data-figure=percentage]").inner_text() == "100%"
    usage = api(gateway, f"{SVC}/config/rate-limit/usage", rule="dashboard-demo-rpm")["matched"]
    (entity,) = usage[0]["entities"]
    period = entity["periods"]["requests_per_minute"]
    row = admin.page.locator(f"tr[data-rule=dashboard-demo-rpm][data-entity='{entity['entity']}']")
    assert row.locator("[data-figure=used]").inner_text() == number(period["used"]) == "3"
    assert row.locator("[data-figure=remaining]").inner_text() == number(period["remaining"])
    alerts = api(gateway, f"{SVC}/alerts")
    assert admin.figure("alerts") == number(alerts["pagination"]["total"]) and alerts["pagination"]["total"] >= 2
    for alert in alerts["data"]:
        assert (
            admin.page.locator(f"tr[data-alert='{alert['id']}'] [data-figure=status]").inner_text() == alert["status"]
        )
    admin.shot("limits")


def test_two_config_versions_compare_with_the_clis_diff(admin: Browser, gateway: scenario.Gateway) -> None:
    admin.open("/ui/config")
    kind = "gateway-rate-limiting-config"
    assert (
        admin.page.locator(f"table[data-type={kind}] tr[data-resource={kind}] [data-figure=versions]").inner_text()
        == "2"
    )
    admin.shot("config")
    admin.page.locator(f"tr[data-resource={kind}] a").click()
    history = api(gateway, f"{SVC}/config-history", kind=kind, name=kind)["data"]
    newer, older = history[0], history[1]
    admin.page.select_option("select[name=from]", str(newer["version"]))  # reversed on purpose: shown oldest first
    admin.page.select_option("select[name=to]", str(older["version"]))
    admin.page.click("form.filters button[type=submit]")
    admin.page.wait_for_url("**to=*")
    assert admin.figure("compared") == f"{older['version']} → {newer['version']}"
    expected = compute_diff(older["manifest"], newer["manifest"])  # what `apply --dry-run --show-diff` prints
    assert admin.figure("diff").splitlines() == expected.splitlines() and "+- id: dashboard-demo-rpm" in expected
    assert (
        api(gateway, f"{SVC}/config-history", kind=kind, name=kind, **{"from": older["version"]})["diff"]["text"]
        == expected
    )
    admin.shot("config-diff")


def test_a_model_name_carrying_a_script_renders_as_text(admin: Browser) -> None:
    admin.open("/ui/logs?since=1h")
    cell = admin.page.locator("table.logs td", has_text=scenario.HOSTILE_MODEL)
    assert cell.count() == 1 and cell.inner_text() == scenario.HOSTILE_MODEL
    assert admin.page.get_by_text(scenario.HOSTILE_METADATA, exact=False).count() == 1
    assert admin.page.locator("script").count() == 0 and admin.page.locator("table.logs img").count() == 0
    admin.open("/ui?window=hour")
    assert admin.page.locator("table[data-breakdown=model] td", has_text=scenario.HOSTILE_MODEL).count() == 1
    assert admin.page.locator("script").count() == 0


def test_a_users_token_sees_only_its_own_data(playwright: Any, gateway: scenario.Gateway, shots: Path) -> None:
    dana, erin = scenario.RATE_LIMITED, scenario.BUDGETED
    token = gateway.tokens[dana]
    erins = api(gateway, f"{SVC}/logs", subject=f"user:{erin}", limit=1)["data"][0]["id"]
    for browser in _browser(playwright, gateway, shots, token):
        browser.open("/ui?window=hour")
        assert list(browser.rows("table[data-breakdown=subject]")) == [f"user:{dana}"]
        own = api(gateway, f"{SVC}/usage/summary", token, since="1h")["total"]
        assert browser.figure("requests") == number(own["requests"]) == "5"
        browser.open("/ui/logs")
        rows = browser.page.locator("table.logs tbody tr")
        assert rows.count() == 5 and all(
            rows.nth(i).locator("td").nth(2).inner_text() == f"user:{dana}" for i in range(5)
        )
        assert browser.page.goto(f"{gateway.base_url}/ui/logs/{erins}").status == 404
        assert browser.page.goto(f"{gateway.base_url}/ui/logs?subject=user:{erin}").status == 403
        assert browser.page.goto(f"{gateway.base_url}/ui/config").status == 403
        browser.open("/ui/limits")
        entities = browser.page.locator("table.limits tbody tr")
        assert entities.count() > 0
        assert {entities.nth(i).get_attribute("data-entity") for i in range(entities.count())} <= {
            f"user:{dana}",
            "team:backend",
        }
        browser.shot("limits-as-user")
    with gateway.client(token) as client:
        assert client.get(f"{SVC}/logs", params={"subject": f"user:{erin}"}).status_code == 403
        assert client.get(f"{SVC}/logs", params={"id": erins}).json()["data"] == []
        assert client.get(f"{SVC}/config-history").status_code == 403


def test_every_page_was_screenshotted(shots: Path) -> None:
    names = {path.stem for path in shots.glob("*.png") if path.stat().st_size > 10_000}
    assert names >= {"overview", "logs", "log-detail", "limits", "config", "config-diff", "limits-as-user"}
