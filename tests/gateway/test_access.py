"""Which models a principal may call: admins, collaborators, authorized_subjects, VA grants."""

from __future__ import annotations

from tfy_gateway.gateway.access import build_access
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.manifests import parse_manifest

RAW = [
    {
        "name": "openai-main",
        "type": "provider-account/openai",
        "collaborators": [{"subject": "team:backend", "role_id": "provider-account-access"}],
        "integrations": [
            {"name": "gpt-4o", "type": "integration/model/openai", "model_id": "gpt-4o", "model_types": ["chat"]},
            {
                "name": "mini",
                "type": "integration/model/openai",
                "model_id": "gpt-4o-mini",
                "model_types": ["chat"],
                "authorized_subjects": ["user:c@x.y"],
            },
        ],
    },
    {
        "name": "anthropic-main",
        "type": "provider-account/anthropic",
        "integrations": [
            {"name": "sonnet", "type": "integration/model/anthropic", "model_id": "claude", "model_types": ["chat"]}
        ],
    },
    {
        "name": "everyone-models",
        "type": "provider-account/groq",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://t:groq:KEY"},
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [
            {"name": "llama", "type": "integration/model/groq", "model_id": "llama", "model_types": ["chat"]}
        ],
    },
    {
        "name": "bot",
        "type": "virtual-account",
        "permissions": [
            {"resource_type": "model", "resource_fqn": "local:anthropic:anthropic-main:sonnet", "role_id": "r"},
            {"resource_type": "provider-account", "resource_fqn": "openai-main", "role_id": "r"},
            {"resource_type": "model", "resource_fqn": "missing/model", "role_id": "r"},
        ],
    },
    {"name": "empty-bot", "type": "virtual-account"},
]
MANIFESTS = [parse_manifest(manifest) for manifest in RAW]  # access is compiled from the typed models


def user(email: str, *teams: str, admin: bool = False) -> Principal:
    subjects = (f"user:{email}", *(f"team:{t}" for t in teams), "team:everyone")
    return Principal("user", email, email, (*teams, "everyone"), admin, subjects, "t", "tid")


def bot(name: str) -> Principal:
    return Principal("virtualaccount", name, None, (), False, (f"virtualaccount:{name}",), name, "tid")


def ids(principal: Principal) -> list[str]:
    return [entry.id for entry in build_access(MANIFESTS, "local").visible(principal)]


def test_admins_see_every_model_in_manifest_order() -> None:
    assert ids(user("root@x.y", admin=True)) == [
        "openai-main/gpt-4o",
        "openai-main/mini",
        "anthropic-main/sonnet",
        "everyone-models/llama",
    ]


def test_users_see_models_through_collaborators_and_authorized_subjects() -> None:
    assert ids(user("b@x.y", "backend")) == ["openai-main/gpt-4o", "openai-main/mini", "everyone-models/llama"]
    assert ids(user("c@x.y")) == ["openai-main/mini", "everyone-models/llama"]
    assert ids(user("d@x.y")) == ["everyone-models/llama"]


def test_virtual_accounts_see_only_their_grants_and_not_team_everyone() -> None:
    assert ids(bot("bot")) == ["openai-main/gpt-4o", "openai-main/mini", "anthropic-main/sonnet"]
    assert ids(bot("empty-bot")) == []
    assert ids(bot("unknown")) == []


def test_allows_refuses_unknown_models_even_for_admins() -> None:
    access = build_access(MANIFESTS, "local")
    assert access.allows(user("root@x.y", admin=True), "anthropic-main/sonnet")
    assert not access.allows(user("root@x.y", admin=True), "anthropic-main/opus")
    entry = access.models["openai-main/gpt-4o"]
    assert (entry.provider, entry.fqn, entry.model_types) == ("openai", "local:openai:openai-main:gpt-4o", ("chat",))
