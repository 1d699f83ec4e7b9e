"""The dashboard's sessions and headers, in process (no browser): who gets in, with what cookie, which
posts are refused, what a virtual account's token sees, and that every answer carries the CSP.

The pages' content against the JSON APIs is test_browser.py's (a real browser on a real process)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.inprocess import GATEWAY_URL, InProcessGateway, running_gateway

MODEL = "openai-main/gpt-4o"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async with running_gateway(tmp_path / "data", offline=True) as running:
        yield running


async def chat(gateway: InProcessGateway, token: str | None = None, **metadata: str) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    headers = {**gateway.auth(token), "x-tfy-metadata": json.dumps(metadata)}
    return await gateway.http.post("/api/llm/chat/completions", json=body, headers=headers)


async def test_logging_in_with_a_token_sets_a_strict_cookie_and_goes_back_where_asked(
    gateway: InProcessGateway,
) -> None:
    async with gateway.client() as browser:
        away = await browser.get("/ui/logs?status=429")
        assert away.status_code == 303 and away.headers["location"] == "/ui/login?next=%2Fui%2Flogs%3Fstatus%3D429"
        form = await browser.get("/ui/login?next=/ui/logs")
        assert form.status_code == 200 and 'value="/ui/logs"' in form.text
        wrong = await browser.post("/ui/login", data={"token": "tfy_" + "0" * 40, "next": "/ui/logs"})
        assert (
            wrong.status_code == 401
            and "invalid, expired or revoked" in wrong.text
            and "set-cookie" not in wrong.headers
        )
        done = await browser.post("/ui/login", data={"token": gateway.token, "next": "/ui/logs?status=429"})
        assert done.status_code == 303 and done.headers["location"] == "/ui/logs?status=429"
        cookie = done.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie and "max-age=" in cookie
        page = await browser.get("/ui/logs")
        assert page.status_code == 200 and "user:admin@local" in page.text
        out = await browser.post("/ui/logout")
        assert out.status_code == 303 and 'tfy_dashboard=""' in out.headers["set-cookie"]
        browser.cookies.clear()
        assert (await browser.get("/ui")).status_code == 303


@pytest.mark.parametrize("next_page", ["//evil.example/ui", "https://evil.example/", "/api/svc/v1/users", "/ui\\@evil"])
async def test_after_logging_in_the_dashboard_never_sends_anyone_elsewhere(
    gateway: InProcessGateway, next_page: str
) -> None:
    done = await gateway.http.post("/ui/login", data={"token": gateway.token, "next": next_page})
    assert done.status_code == 303 and done.headers["location"] == "/ui"


@pytest.mark.parametrize(
    "headers", [{"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}], ids=["origin", "fetch-site"]
)
async def test_a_form_posted_from_another_site_is_refused(gateway: InProcessGateway, headers: dict[str, str]) -> None:
    login = await gateway.http.post("/ui/login", data={"token": gateway.token}, headers=headers)
    assert login.status_code == 403 and "set-cookie" not in login.headers
    same = await gateway.http.post("/ui/login", data={"token": gateway.token}, headers={"origin": GATEWAY_URL})
    assert same.status_code == 303


async def test_a_bearer_header_works_without_a_session_and_a_bad_one_is_a_401_page(gateway: InProcessGateway) -> None:
    page = await gateway.http.get("/ui/limits", headers=gateway.auth())
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    bad = await gateway.http.get("/ui/limits", headers=gateway.auth("tfy_" + "1" * 40))
    assert bad.status_code == 401 and "invalid, expired or revoked" in bad.text
    csp = bad.headers["content-security-policy"]
    assert "script-src 'none'" in csp and bad.headers["x-frame-options"] == "DENY"


async def test_a_revoked_tokens_session_ends_at_once(gateway: InProcessGateway) -> None:
    token = await gateway.add_user("fay@example.com")
    async with gateway.client() as browser:
        assert (await browser.post("/ui/login", data={"token": token})).status_code == 303
        assert (await browser.get("/ui")).status_code == 200
        tokens = (await gateway.http.get("/api/svc/v1/tokens", headers=gateway.auth())).json()["data"]
        (fays,) = [t["id"] for t in tokens if t["owner"] == "fay@example.com"]
        revoked = await gateway.http.delete(f"/api/svc/v1/personal-access-tokens/{fays}", headers=gateway.auth())
        assert revoked.status_code == 200, revoked.text
        assert (await browser.get("/ui")).status_code == 303  # back to the login form


async def test_a_virtual_accounts_token_sees_its_accounts_requests_only(gateway: InProcessGateway) -> None:
    account = {
        "name": "ci-bot",
        "type": "virtual-account",
        "permissions": [{"resource_fqn": MODEL, "resource_type": "model", "role_id": "model-access"}],
    }
    applied = await gateway.http.put(
        "/api/svc/v1/apply", json={"manifest": account, "dryRun": False}, headers=gateway.auth()
    )
    account_id = applied.json()["data"]["id"]
    vat = (await gateway.http.get(f"/api/svc/v1/virtual-accounts/{account_id}/token", headers=gateway.auth())).json()[
        "token"
    ]
    assert (await chat(gateway, vat, job="nightly")).status_code == 200
    assert (await chat(gateway, job="admin-side")).status_code == 200
    page = await gateway.http.get("/ui/logs", headers=gateway.auth(vat))
    assert page.status_code == 200 and "virtualaccount:ci-bot" in page.text
    assert "job=nightly" in page.text and "admin-side" not in page.text
    overview = await gateway.http.get("/ui", headers=gateway.auth(vat))
    assert overview.status_code == 200 and 'data-figure="requests">1<' in overview.text
    assert (await gateway.http.get("/ui/config", headers=gateway.auth(vat))).status_code == 403


async def test_static_files_only_from_the_package_and_browsers_at_the_root_go_to_the_dashboard(
    gateway: InProcessGateway,
) -> None:
    css = await gateway.http.get("/ui/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and ".bar" in css.text
    for name in ("..%2F__init__.py", "__init__.py", ".hidden.css", "missing.css"):
        assert (await gateway.http.get(f"/ui/static/{name}")).status_code == 404, name
    browser = await gateway.http.get("/", headers={"accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 307 and browser.headers["location"] == "/ui"
    machine = await gateway.http.get("/")
    assert machine.json()["dashboard"] == f"{GATEWAY_URL}/ui"


async def test_a_logged_body_and_hostile_metadata_are_escaped(gateway: InProcessGateway) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "<script>alert(1)</script>"}], "max_tokens": 4}
    headers = {**gateway.auth(), "x-tfy-logging-config": '{"enabled": true}', "x-tfy-metadata": '{"k": "<i>x</i>"}'}
    served = await gateway.http.post("/api/llm/chat/completions", json=body, headers=headers)
    request_id = served.headers["x-tfy-request-id"]
    page = await gateway.http.get(f"/ui/logs/{request_id}", headers=gateway.auth())
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert "k=&lt;i&gt;x&lt;/i&gt;" in page.text and "<i>x</i>" not in page.text
    listing = await gateway.http.get("/ui/logs", params={"metadata": "k:<i>x</i>"}, headers=gateway.auth())
    assert request_id in listing.text and 'value="k:&lt;i&gt;x&lt;/i&gt;"' in listing.text


async def test_a_requests_trace_id_is_shown_and_filters_the_logs(gateway: InProcessGateway) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**gateway.auth(), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    served = await gateway.http.post("/api/llm/chat/completions", json=body, headers=headers)
    untraced = await chat(gateway)
    detail = await gateway.http.get(f"/ui/logs/{served.headers['x-tfy-request-id']}", headers=gateway.auth())
    assert f'<dd data-figure="trace_id"><code>{trace_id}</code></dd>' in detail.text
    plain = await gateway.http.get(f"/ui/logs/{untraced.headers['x-tfy-request-id']}", headers=gateway.auth())
    assert "Trace id" not in plain.text
    listing = await gateway.http.get("/ui/logs", params={"trace_id": trace_id}, headers=gateway.auth())
    assert served.headers["x-tfy-request-id"] in listing.text
    assert untraced.headers["x-tfy-request-id"] not in listing.text
