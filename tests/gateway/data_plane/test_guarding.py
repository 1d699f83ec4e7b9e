"""`PolicyGuardrails.start`: the request view it hands the guardrails is the request's own caller,
metadata and model, also when views are remembered between requests."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.data_plane.guarding import MAX_VIEWS, PolicyGuardrails
from tfy_gateway.gateway.guardrails import compile_guardrails
from tfy_gateway.gateway.guardrails.run import GuardrailRun
from tfy_gateway.gateway.providers import MemoryTransport
from tfy_gateway.gateway.providers.transport import HttpResponse
from tfy_gateway.manifests import parse_manifest

PII = {"name": "pii", "type": "integration/guardrail-config/tfy-pii", "config": {"pii_categories": ["Email"]}}
GROUP = {
    "name": "g",
    "type": "provider-account/guardrail-config-group",
    "integrations": [{**PII, "operation": "validate", "enforcing_strategy": "audit"}],
}
RULES = {
    "name": "rules",
    "type": "gateway-guardrails-config",
    "rules": [
        {
            "id": "all",
            "when": {},
            "llm_input_guardrails": ["g/pii"],
            "llm_output_guardrails": [],
            "mcp_tool_pre_invoke_guardrails": [],
            "mcp_tool_post_invoke_guardrails": [],
        }
    ],
}


def principal(email: str, user_id: str = "") -> Principal:
    subjects = (f"user:{email}", "team:everyone")
    return Principal("user", email, email, ("everyone",), False, subjects, "t", "t1", user_id)


def request(who: Principal, metadata: dict[str, str], model: str = "openai/gpt-4o") -> Any:
    compiled = compile_guardrails(parse_manifest(RULES), [parse_manifest(GROUP)], None, lambda value: value)  # type: ignore[arg-type]
    return SimpleNamespace(
        config=SimpleNamespace(guardrails=compiled),
        options=SimpleNamespace(guardrails=None, metadata=metadata),
        principal=who,
        model=model,
        endpoint=SimpleNamespace(multipart=False, name="chat"),
    )


def view_of(policy: PolicyGuardrails, ctx: Any) -> Any:
    run = policy.start(ctx)
    assert isinstance(run, GuardrailRun)
    return run.view


def test_each_request_sees_its_own_caller_metadata_and_model() -> None:
    policy = PolicyGuardrails(MemoryTransport(lambda _: HttpResponse(200, {}, b"{}")))
    alice, bob = principal("alice@x.io", "u-a"), principal("bob@x.io", "u-b")
    shared: dict[str, str] = {"project": "p1"}
    first = view_of(policy, request(alice, shared))
    again = view_of(policy, request(alice, shared))
    assert again is first  # remembered for the same caller, metadata and model
    assert (first.caller.subject, first.caller.name, first.caller.id) == ("user:alice@x.io", "alice@x.io", "u-a")
    other = view_of(policy, request(bob, shared))
    assert (other.caller.name, other.caller.id) == ("bob@x.io", "u-b")
    # Equal but distinct metadata (another set of headers), another model: views of their own.
    fresh = view_of(policy, request(alice, {"project": "p2"}))
    assert fresh.metadata == {"project": "p2"}
    assert view_of(policy, request(alice, shared, "openai/gpt-4o-mini")).model == "openai/gpt-4o-mini"
    # A principal rebuilt with other values (a renamed user, the same object id reused) is not mixed up.
    renamed = principal("alice@y.io", "u-a")
    assert view_of(policy, request(renamed, shared)).caller.name == "alice@y.io"


def test_remembered_views_are_bounded() -> None:
    policy = PolicyGuardrails(MemoryTransport(lambda _: HttpResponse(200, {}, b"{}")))
    who = principal("alice@x.io")
    for index in range(MAX_VIEWS + 10):
        view = view_of(policy, request(who, {"n": str(index)}))
        assert view.metadata == {"n": str(index)}
    assert len(policy._views) <= MAX_VIEWS
