"""One settings object: flags > TFY_GATEWAY_* > defaults, clear errors, every tunable documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tfy_gateway.gateway.settings import GatewaySettings, SettingsError, env_var, flag, is_env_only, load_settings


def test_flags_win_over_the_environment_which_wins_over_defaults() -> None:
    environ = {"TFY_GATEWAY_PORT": "9100", "TFY_GATEWAY_LOG_BODIES": "yes", "TFY_GATEWAY_FAILURE_THRESHOLD": "5"}
    settings = load_settings({"port": "9200"}, environ)
    assert settings.port == 9200  # flag
    assert settings.log_bodies is True and settings.failure_threshold == 5  # environment
    assert settings.upstream_timeout_s == 600.0 and settings.max_body_bytes == 10 * 1024 * 1024  # defaults
    assert settings.routing().failure_threshold == 5  # the router gets what the operator set


@pytest.mark.parametrize(
    ("flags", "environ", "expected"),
    [
        ({}, {"TFY_GATEWAY_LOG_BODIES": "ture"}, "TFY_GATEWAY_LOG_BODIES='ture': input should be a valid boolean"),
        ({"port": "0"}, {}, "--port='0': input should be greater than or equal to 1"),
        (
            {},
            {"TFY_GATEWAY_MAX_BODY_BYTES": "10MB"},
            "TFY_GATEWAY_MAX_BODY_BYTES='10MB': input should be a valid integer",
        ),
        ({"upstream_timeout_s": "-1"}, {}, "--upstream-timeout-s='-1': input should be greater than 0"),
    ],
)
def test_a_bad_value_names_where_it_came_from_and_what_is_allowed(
    flags: dict[str, str], environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(flags, environ)
    assert expected in str(caught.value)


def test_the_admin_token_is_never_echoed() -> None:
    secret = "not-a-tfy-token-s3cr3t"
    with pytest.raises(SettingsError) as caught:
        load_settings({}, {"TFY_GATEWAY_ADMIN_TOKEN": secret})
    assert secret not in str(caught.value) and "TFY_GATEWAY_ADMIN_TOKEN" in str(caught.value)
    settings = load_settings({}, {"TFY_GATEWAY_ADMIN_TOKEN": "tfy_" + secret})
    assert secret not in repr(settings) and secret not in str(settings)


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "serve", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_serve_exits_2_on_a_bad_variable_without_a_traceback(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "TFY_GATEWAY_LOG_BODIES": "ture"}
    result = serve("--data-dir", str(tmp_path / "d"), env=env)
    assert result.returncode == 2
    assert "TFY_GATEWAY_LOG_BODIES='ture'" in result.stderr and "true/false" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()  # nothing was started or created


def test_serve_help_and_the_reference_list_every_setting() -> None:
    help_text = serve("--help").stdout
    reference = (REPO_ROOT / "references" / "local-gateway.md").read_text()
    for name in GatewaySettings.model_fields:
        row = next((line for line in reference.splitlines() if line.startswith(f"| {name} |")), None)
        assert row is not None, f"references/local-gateway.md has no row for setting {name}"
        assert f"`{env_var(name)}`" in row
        assert env_var(name) in help_text.replace("\n", " ").replace(" ", "") or is_env_only(name)
        if not is_env_only(name):
            assert f"`{flag(name)}`" in row and flag(name) in help_text


def test_a_redis_url_must_name_redis_and_its_password_is_never_shown() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ={"TFY_GATEWAY_REDIS_URL": "http://:s3cret@cache:6379"})
    message = str(error.value)
    assert "TFY_GATEWAY_REDIS_URL" in message and "redis://" in message and "s3cret" not in message
    with pytest.raises(SettingsError, match="fail-open"):
        load_settings({"on_state_error": "fail-sometimes"})
    settings = load_settings({"redis_url": "redis://:s3cret@127.0.0.1:6379/0", "on_state_error": "fail-closed"})
    assert settings.redis_url == "redis://:s3cret@127.0.0.1:6379/0" and "s3cret" not in repr(settings)
    assert load_settings().redis_url is None and load_settings().on_state_error == "fail-open"
