"""Channel settings from the secret store: naming scheme, errors that say what to set, no values shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfy_gateway.gateway.alerts import ChannelError, ChannelResolver


def test_settings_come_from_the_environment_then_the_secrets_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text(
        json.dumps({"notify-ops": {"bot_token": "xoxb-file", "api_url": "http://h/x"}})
    )
    resolver = ChannelResolver.load(tmp_path, {"TFY_SECRET_NOTIFY_OPS_BOT_TOKEN": "xoxb-env"})
    settings = resolver.settings("slack-bot", "ops")
    assert settings["bot_token"] == "xoxb-env" and settings["api_url"] == "http://h/x"
    assert "xoxb" not in repr(settings)
    assert {"xoxb-env", "http://h/x"} <= set(resolver.secrets())


def test_a_missing_required_key_names_the_variable_and_the_file_entry(tmp_path: Path) -> None:
    resolver = ChannelResolver.load(tmp_path, {"TFY_SECRET_NOTIFY_MAIL_HOST": "smtp.example.com"})
    with pytest.raises(ChannelError) as caught:
        resolver.settings("email", "mail")
    message = str(caught.value)
    assert "email channel 'mail' is not configured: no from_email" in message
    assert "set TFY_SECRET_NOTIFY_MAIL_FROM_EMAIL" in message
    assert f'{{"notify-mail": {{"from_email": "..."}}}} to {tmp_path / "secrets.json"}' in message
    assert "smtp.example.com" not in message


def test_a_url_that_is_not_http_is_refused_without_showing_it(tmp_path: Path) -> None:
    resolver = ChannelResolver.load(
        tmp_path, {"TFY_SECRET_NOTIFY_HOOK_WEBHOOK_URL": "hooks.slack.com/services/zq9token"}
    )
    with pytest.raises(
        ChannelError, match=r"webhook_url is not an http\(s\) URL; fix TFY_SECRET_NOTIFY_HOOK_WEBHOOK_URL"
    ) as caught:
        resolver.settings("slack-webhook", "hook")
    assert "zq9token" not in str(caught.value)


def test_a_broken_secrets_file_fails_lookups_with_its_position_only(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text('{"notify-x": {"webhook_url": "https://hooks/zq9token"')
    with pytest.raises(ChannelError, match=r"cannot read its settings: .*secrets\.json: not valid JSON") as caught:
        ChannelResolver.load(tmp_path, {}).settings("slack-webhook", "x")
    assert "zq9token" not in str(caught.value)


def test_a_channel_name_with_a_colon_cannot_be_configured_locally(tmp_path: Path) -> None:
    with pytest.raises(ChannelError, match="a name with ':' cannot be configured locally"):
        ChannelResolver.load(tmp_path, {}).settings("pagerduty", "tenant:pd")
