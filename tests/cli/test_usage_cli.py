"""`tfy-gateway usage --limits` and `explain` as subprocesses against a real gateway with limits applied."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.gateway.data_plane.conftest import DataPlaneProcess as DataPlane
from tests.gateway.data_plane.conftest import apply, dp_process, provider
from tests.helpers import SUBPROCESS_TIMEOUT_S

__all__ = ["dp_process", "provider"]

ENV_NAMES = ("TFY_BASE_URL", "TFY_HOST", "TFY_API_HOST", "TFY_API_KEY")


@pytest.fixture(scope="module")
def dp(dp_process: DataPlane) -> DataPlane:
    """A real gateway process: the CLI talks to it over HTTP."""
    return dp_process


def cli(dp: DataPlane, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    return subprocess.run(
        [sys.executable, "-m", "tfy_gateway", *args],
        env={**clean, **dp.gateway.env},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )


def test_usage_limits_and_explain_show_each_rule_entity_and_headroom(dp: DataPlane) -> None:
    apply(
        dp.gateway,
        {
            "name": "limits",
            "type": "gateway-rate-limiting-config",
            "rules": [
                {
                    "id": "per-user",
                    "when": {},
                    "limit_to": 5,
                    "unit": "requests_per_minute",
                    "rate_limit_applies_per": ["user"],
                }
            ],
        },
    )
    apply(
        dp.gateway,
        {
            "name": "budgets",
            "type": "gateway-budget-config",
            "rules": [{"id": "daily", "when": {}, "limit_to": 2, "unit": "cost_per_day"}],
        },
    )
    for _ in range(2):
        assert dp.chat().status_code == 200

    usage = cli(dp, "usage", "--limits")
    assert usage.returncode == 0, usage.stderr
    assert "per-user (limits; per user; enforce)" in usage.stdout
    assert (
        "user:admin@local  2 / 5" in usage.stdout
        and "2 / 5 requests_per_minute (40%), 3 left, sliding minute" in usage.stdout
    )
    assert "daily (budgets; per aggregate; enforce)" in usage.stdout and "/ $2.0000 cost_per_day" in usage.stdout

    as_json = json.loads(cli(dp, "usage", "--limits", "--rule", "per-user", "--format", "json").stdout)
    assert [rule["name"] for rule in as_json["rate_limits"]] == ["per-user"] and as_json["budgets"] == []

    explained = cli(dp, "explain", "--subject", "user:admin@local", "--model", "fake/gpt-4o")
    assert explained.returncode == 0, explained.stderr
    assert "Limits:    the request would be admitted" in explained.stdout
    assert "MATCH per-user" in explained.stdout and "2 / 5 requests_per_minute" in explained.stdout, explained.stdout

    misuse = cli(dp, "usage", "--rule", "x")
    assert misuse.returncode == 2 and "--rule narrows --limits" in misuse.stderr
