"""`opa`: ask an Open Policy Agent server through its REST data API.

POST `{opa_url}/v1/data/{policy_path}` with `{"input": {stage, model, requestBody, responseBody?,
context: {user, metadata}}}`. The decision is the answer's `result`: `true` passes and `false`
fails; an object passes when its `allow` is true (or it has an empty `deny`), and its `reason`,
`message` or `deny` explains a failure. A missing `result` (the policy is not defined) is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.guardrails.integration import (
    PASS,
    GuardrailCall,
    GuardrailUnavailable,
    RemoteGuardrail,
    Spec,
    Verdict,
    context_of,
)
from tfy_gateway.gateway.guardrails.remote import post_json

MAX_MESSAGE = 500


def opa_url(base: str, policy_path: str) -> str:
    return f"{base.rstrip('/')}/v1/data/{policy_path.strip('/')}"


class OpaGuardrail(RemoteGuardrail):
    def __init__(self, spec: Spec, url: str, headers: Mapping[str, str]) -> None:
        super().__init__(spec)
        self.url = url
        self.headers = dict(headers)

    async def check(self, call: GuardrailCall) -> Verdict:
        document: dict[str, Any] = {
            "stage": call.stage,
            "model": call.model,
            "requestBody": call.body,
            "context": context_of(call),
        }
        if call.response is not None:
            document["responseBody"] = call.response
        answer = await post_json(call, self.url, self.headers, {"input": document})
        if not isinstance(answer, dict) or "result" not in answer:
            raise GuardrailUnavailable(f"OPA has no decision at {self.url.split('/v1/data/', 1)[-1]} (undefined)")
        return decision(answer["result"])


def decision(result: Any) -> Verdict:
    """The verdict a policy's result stands for (see the module docstring)."""
    if result is True:
        return PASS
    if result is False:
        return Verdict("denied by the OPA policy")
    if isinstance(result, dict):
        deny = result.get("deny")
        allowed = result.get("allow")
        if allowed is None and isinstance(deny, (list, bool)):
            allowed = not deny
        if allowed is True:
            return PASS
        if allowed is False:
            reason = result.get("reason") or result.get("message") or deny or "denied by the OPA policy"
            return Verdict(str(reason)[:MAX_MESSAGE])
    raise GuardrailUnavailable("the OPA policy's result is neither a boolean nor an object with allow or deny")
