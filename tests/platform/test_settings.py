from __future__ import annotations

import pytest

from tfy_gateway.platform import ConfigurationError, ControlPlaneClient, ControlPlaneSettings, mask_secret

KEY = "tfy_secret_value_1234567890"


def test_base_url_wins_over_aliases_in_order() -> None:
    env = {"TFY_BASE_URL": "", "TFY_HOST": "http://host:1/", "TFY_API_HOST": "http://api:2"}
    env["TFY_API_KEY"] = KEY
    settings = ControlPlaneSettings.from_env(env)
    assert settings.base_url == "http://host:1"
    assert settings.base_url_variable == "TFY_HOST"
    assert any("TFY_API_HOST" in warning and "ignored" in warning for warning in settings.warnings)

    env["TFY_BASE_URL"] = "https://cp.example.com"
    assert ControlPlaneSettings.from_env(env).base_url == "https://cp.example.com"


def test_api_host_alone_is_enough() -> None:
    settings = ControlPlaneSettings.from_env({"TFY_API_HOST": "http://127.0.0.1:8787", "TFY_API_KEY": KEY})
    assert settings.base_url == "http://127.0.0.1:8787"
    assert settings.warnings == ()


def test_same_url_in_two_variables_is_no_warning() -> None:
    env = {"TFY_BASE_URL": "http://h:1", "TFY_HOST": "http://h:1/", "TFY_API_KEY": KEY}
    assert ControlPlaneSettings.from_env(env).warnings == ()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, ["TFY_BASE_URL (or TFY_HOST, TFY_API_HOST)", "TFY_API_KEY"]),
        ({"TFY_API_KEY": KEY}, ["TFY_BASE_URL (or TFY_HOST, TFY_API_HOST)"]),
        ({"TFY_HOST": "http://h:1", "TFY_API_KEY": "  "}, ["TFY_API_KEY"]),
    ],
)
def test_missing_variables_are_named(env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(ConfigurationError) as info:
        ControlPlaneSettings.from_env(env)
    for name in named:
        assert name in str(info.value)
    if "TFY_API_KEY" not in named:
        assert "and TFY_API_KEY" not in info.value.message


@pytest.mark.parametrize("url", ["127.0.0.1:8787", "ftp://host", "http://", "http://h:1/?x=1"])
def test_non_http_urls_are_rejected(url: str) -> None:
    with pytest.raises(ConfigurationError, match="TFY_BASE_URL"):
        ControlPlaneSettings.from_env({"TFY_BASE_URL": url, "TFY_API_KEY": KEY})


@pytest.mark.parametrize("path", ["/api/svc", "/api/svc/v1", "/api/llm", "/api"])
def test_api_paths_are_rejected_with_the_origin_to_use(path: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ControlPlaneSettings.from_env({"TFY_HOST": f"https://org.example.com{path}/", "TFY_API_KEY": KEY})
    assert "TFY_HOST=https://org.example.com" in str(info.value)


def test_other_paths_warn_that_the_cli_replaces_the_last_segment() -> None:
    settings = ControlPlaneSettings.from_env({"TFY_BASE_URL": "https://h.example/gw/", "TFY_API_KEY": KEY})
    assert settings.base_url == "https://h.example/gw"
    assert len(settings.warnings) == 1
    assert "replaces the last path segment" in settings.warnings[0]


def test_key_never_appears_in_repr_or_errors() -> None:
    settings = ControlPlaneSettings.from_env({"TFY_BASE_URL": "http://h:1", "TFY_API_KEY": KEY})
    assert settings.api_key == KEY
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    assert "tfy_***" in repr(settings)
    assert KEY not in repr(ControlPlaneClient("http://h:1", KEY))
    with pytest.raises(ConfigurationError) as info:
        ControlPlaneSettings.from_env({"TFY_BASE_URL": "http://h:1", "TFY_API_KEY": "tfy_a b_secret_xyz"})
    assert "secret_xyz" not in str(info.value)


def test_mask_secret_shows_prefix_and_length_only() -> None:
    assert mask_secret(KEY) == f"tfy_***({len(KEY)} chars)"
    assert mask_secret("short") == "***(5 chars)"
    assert mask_secret("") == "<empty>"
