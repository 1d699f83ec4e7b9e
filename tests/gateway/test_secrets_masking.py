"""`mask_url`, `host_of` and `scrub`: what any URL looks like once shown, and what text keeps of a secret."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.secrets_masking import host_of, mask_url, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@host:6380/0", "redis://:***@host:6380/0"),
        ("rediss://user:s3cret@host/1", "rediss://user:***@host/1"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://:s3cret@host:notaport/0", "<unparseable url>"),
        ("postgresql://u:p%40ss@db:5432/x?sslmode=require", "postgresql://u:***@db:5432/x?sslmode=***"),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
        ("https://example.com/v1?api-version=2024-02-01#frag", "https://example.com/v1?api-version=***#***"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        ("not a url", "<unparseable url>"),
    ],
)
def test_a_shown_url_keeps_no_password_query_value_or_fragment(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_a_webhook_url_is_shown_without_its_path() -> None:
    url = "https://hook:pa55word@hooks.slack.com/services/T0/B0/s3cretToken?sig=abc123"
    assert mask_url(url, secret_path=True) == "https://hook:***@hooks.slack.com/***?***"
    assert mask_url("https://hooks.example.com/", secret_path=True) == "https://hooks.example.com/"
    assert host_of(url) == "hooks.slack.com"
    assert host_of("http://u:p@127.0.0.1:9000/x") == "127.0.0.1:9000"
    assert host_of("::") == "<unparseable url>"


def test_scrub_removes_every_identifying_fragment_of_a_secret_url() -> None:
    url = "https://hook:pa55word@hooks.example.com/in/T0/s3cretToken42?sig=QuerySecret9&v=1"
    echoed = (
        "bad: https://hook:pa55word@hooks.example.com/in/T0/s3cretToken42?sig=QuerySecret9&v=1 "
        "segment s3cretToken42, password pa55word, sig QuerySecret9, short: /in/T0 v2"
    )
    cleaned = scrub(echoed, [url, "", "xoxb-plain-token"])
    for secret in ("pa55word", "s3cretToken42", "QuerySecret9"):
        assert secret not in cleaned
    assert cleaned.startswith("bad: *** segment ***, password ***, sig ***")
    assert cleaned.endswith("short: /in/T0 v2")  # short fragments identify nothing and are kept
    assert scrub("token xoxb-plain-token here", ["xoxb-plain-token"]) == "token *** here"
    # A receiver may echo the decoded form of a percent-encoded secret.
    assert scrub("got s3cret/Token", ["https://h.example.com/x/s3cret%2FToken"]) == "got ***"
