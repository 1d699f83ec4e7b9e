"""Token -> Principal: subjects, teams, expiry, and the 401 messages."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.auth import Authenticator, bearer_token, hash_token
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.identities import token_entries
from tfy_gateway.gateway.store import TokenRecord, UserRecord

USERS = [UserRecord("u1", "alice@example.com", False, "t"), UserRecord("u2", "root@local", True, "t")]
TEAMS = [
    {"name": "backend", "type": "team", "members": ["Alice@example.com"]},
    {"name": "ml", "type": "team", "members": ["alice@example.com", "bob@example.com"]},
    {"name": "ci-bot", "type": "virtual-account", "expiration_date": "2030-01-31"},
]


def token(owner_kind: str, owner: str, secret: str, expires_at: str | None = None) -> TokenRecord:
    return TokenRecord(f"id-{secret}", hash_token(secret), f"name-{secret}", owner_kind, owner, "t", expires_at)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(clock: Clock) -> Authenticator:
    tokens = [
        token("user", "alice@example.com", "tfy_alice"),
        token("user", "root@local", "tfy_root", expires_at="2030-01-01T00:00:00Z"),
        token("virtualaccount", "ci-bot", "tfy_va_ci-bot_s"),
        token("virtualaccount", "deleted-bot", "tfy_va_deleted-bot_s"),
        token("user", "gone@example.com", "tfy_gone"),
    ]
    return Authenticator(token_entries(USERS, tokens, TEAMS, {"ci-bot": "va-1"}), clock=clock)


def test_users_get_their_teams_and_everyone_as_subjects() -> None:
    authenticator = make(Clock(0))
    alice = authenticator.authenticate("tfy_alice")
    assert alice is not None and alice.kind == "user" and not alice.is_admin
    assert alice.subjects == ("user:alice@example.com", "team:backend", "team:ml", "team:everyone")
    assert alice.teams == ("backend", "ml", "everyone") and alice.token_name == "name-tfy_alice"
    root = authenticator.authenticate("tfy_root")
    assert root is not None and root.is_admin and root.subjects == ("user:root@local", "team:everyone")


def test_virtual_accounts_have_only_their_own_subject() -> None:
    bot = make(Clock(0)).authenticate("tfy_va_ci-bot_s")
    assert bot is not None
    assert (bot.kind, bot.subjects, bot.teams, bot.id) == ("virtualaccount", ("virtualaccount:ci-bot",), (), "va-1")


def test_tokens_of_deleted_owners_and_unknown_tokens_do_not_authenticate() -> None:
    authenticator = make(Clock(0))
    assert authenticator.authenticate("tfy_va_deleted-bot_s") is None
    assert authenticator.authenticate("tfy_gone") is None
    assert authenticator.authenticate("tfy_alicf") is None
    assert len(authenticator) == 3


def test_expiry_follows_the_clock() -> None:
    clock = Clock(1893456000 - 1)  # 2030-01-01T00:00:00Z minus a second
    authenticator = make(clock)
    assert authenticator.authenticate("tfy_root") is not None
    clock.now += 1
    assert authenticator.authenticate("tfy_root") is None
    # A virtual account's expiration_date is valid through that whole (UTC) day.
    clock.now = 1896134400 - 1  # 2030-02-01T00:00:00Z minus a second
    assert authenticator.authenticate("tfy_va_ci-bot_s") is not None
    clock.now += 1
    assert authenticator.authenticate("tfy_va_ci-bot_s") is None


def test_a_token_is_found_by_its_id_until_it_expires() -> None:
    clock = Clock(1893456000 - 1)
    authenticator = make(clock)
    root = authenticator.by_token_id("id-tfy_root")
    assert root is not None and root.subject == "user:root@local"
    assert authenticator.by_token_id("id-tfy_gone") is None and authenticator.by_token_id("id-unknown") is None
    clock.now += 1
    assert authenticator.by_token_id("id-tfy_root") is None


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing API token"),
        ("Basic abc", "missing API token"),
        ("Bearer sk-123", "tokens of this gateway start with 'tfy_'"),
        ("Bearer tfy_nope", "invalid, expired or revoked"),
    ],
)
def test_require_explains_each_401(header: str | None, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        make(Clock(0)).require(header)
    assert caught.value.status == 401 and message in caught.value.message
    assert "tfy_nope" not in caught.value.message


def test_bearer_parsing() -> None:
    assert bearer_token("bearer  tfy_x ") == "tfy_x"
    assert bearer_token("Bearer") is None
    assert make(Clock(0)).require("Bearer tfy_alice").name == "alice@example.com"
