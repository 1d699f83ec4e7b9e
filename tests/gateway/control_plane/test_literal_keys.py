"""A manifest carrying a literal key (not a `tfy-secret://` reference) is stored as written, but no read
shows it: list and get views, dry-run responses and `existingManifest` (redacted against the manifest
being applied, so the `tfy` CLI's diff still shows an unchanged key as unchanged), with a warning that
recommends a reference."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from tests.gateway.inprocess import InProcessGateway
from tests.gateway.test_tfy_cli import diff_lines, finish, tfy
from tests.helpers import GatewayProcess

KEY = "sk-literal-0123456789abcdef"
OTHER = "sk-literal-rotated-fedcba98"
PASSWORD = "urlPassw0rd"
TOKEN = "hdr-bearer-5555"


def account(key: str = KEY) -> dict[str, Any]:
    return {
        "name": "literal",
        "type": "provider-account/openai",
        "base_url": f"https://proxy:{PASSWORD}@api.example.com/v1",
        "auth_data": {"type": "api-key", "api_key": key},
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


def hosted() -> dict[str, Any]:
    integration = {
        "type": "integration/model/self-hosted-model",
        "name": "llama",
        "hosted_model_name": "llama",
        "url": "http://127.0.0.1:9/v1",
        "model_server": "openai-compatible",
        "model_types": ["chat"],
        "auth_data": {"type": "bearer-auth", "bearer_token": TOKEN},
    }
    return {"name": "hosted", "type": "provider-account/self-hosted-model", "integrations": [integration]}


async def put(gateway: InProcessGateway, manifest: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    answer = await gateway.http.put(
        "/api/svc/v1/apply", json={"manifest": manifest, "dryRun": dry_run}, headers=gateway.auth()
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_no_read_or_dry_run_shows_a_literal_key(inprocess_gateway: InProcessGateway) -> None:
    gateway = inprocess_gateway
    first = await put(gateway, account(), dry_run=False)
    assert any(w["code"] == "plaintext-secret" and "tfy-secret://" in w["hint"] for w in first["warnings"])
    await put(gateway, hosted(), dry_run=False)

    rotated = await put(gateway, account(OTHER), dry_run=True)
    assert rotated["existingManifest"]["auth_data"]["api_key"] == "<redacted>"
    same = await put(gateway, account(), dry_run=True)
    assert same["existingManifest"] == account()  # the caller sent these values: its diff shows no change
    renamed = copy.deepcopy(account())
    renamed["base_url"] = "https://api.example.com/v1"
    moved = await put(gateway, renamed, dry_run=True)
    assert moved["existingManifest"]["base_url"] == "https://proxy:***@api.example.com/v1"

    reads = [rotated, same, moved, await put(gateway, hosted(), dry_run=True)]
    for path in (
        "/api/svc/v1/provider-accounts",
        "/api/svc/v1/provider-accounts/literal",
        "/api/svc/v1/provider-integrations",
    ):
        answer = await gateway.http.get(path, headers=gateway.auth())
        reads.append(answer.json())
    assert KEY not in json.dumps(rotated)  # a stored key the caller did not send is never echoed
    shown = json.dumps([{k: v for k, v in r.items() if k != "existingManifest"} for r in reads])
    for secret in (KEY, OTHER, PASSWORD, TOKEN):
        assert secret not in shown, secret


def test_the_tfy_cli_diff_shows_an_unchanged_literal_key_as_unchanged_and_never_the_old_one(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    creds = {"TFY_HOST": gateway.base_url, "TFY_API_KEY": gateway.admin_token}
    home = tmp_path / "home"
    home.mkdir()
    applied, same, rotated = (tmp_path / f"{n}.yaml" for n in ("applied", "same", "rotated"))
    applied.write_text(yaml.safe_dump(account()))
    same.write_text(
        yaml.safe_dump(
            {
                **account(),
                "integrations": [
                    *account()["integrations"],
                    {
                        "type": "integration/model/openai",
                        "name": "mini",
                        "model_id": "gpt-4o-mini",
                        "model_types": ["chat"],
                    },
                ],
            }
        )
    )
    rotated.write_text(yaml.safe_dump(account(OTHER)))
    code, output = finish(tfy(home, "apply", "-f", str(applied), creds=creds))
    assert code == 0, output

    unchanged = tfy(home, "apply", "-f", str(same), "--dry-run", "--show-diff", creds=creds)
    changed = tfy(home, "apply", "-f", str(rotated), "--dry-run", "--show-diff", creds=creds)
    code, output = finish(unchanged)
    assert code == 0, output
    assert not any("api_key" in line or "base_url" in line for line in diff_lines(output)), diff_lines(output)
    assert any("mini" in line for line in diff_lines(output)), output
    code, output = finish(changed)
    assert code == 0, output
    assert "-      api_key: <redacted>" in [line.rstrip() for line in diff_lines(output)] or any(
        line.startswith("-") and "api_key: <redacted>" in line for line in diff_lines(output)
    ), diff_lines(output)
    assert KEY not in output
