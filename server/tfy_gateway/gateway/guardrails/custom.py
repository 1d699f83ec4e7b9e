"""`custom`: the platform's custom-guardrail HTTP contract (integrations-custom-guardrails
docs/gateway-contract.md).

The gateway POSTs `{requestBody, context: {user: {subjectId, subjectType, subjectSlug}, metadata},
config}` (and `responseBody` on the output stage) to `config.url` with the configured headers and
basic or bearer auth. The server answers 200 with `{"verdict": true}` (pass), `{"verdict": false,
"message": ...}` (fail), or `{"verdict": true, "transformed": true, "result": {...}}`: a rewritten
request (input) or answer (output), applied only when the integration's `operation` is `mutate`.
Any other status is an error, which `enforcing_strategy` decides about. The older form of the
contract is understood too: `null` passes, and a body without `verdict` that looks like the request
(or answer) is its rewritten form.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
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
from tfy_gateway.gateway.guardrails.remote import host_of, post_json
from tfy_gateway.manifests.guardrail_integrations import CustomBasicAuth, CustomBearerAuth

MAX_MESSAGE = 500


class CustomGuardrail(RemoteGuardrail):
    def __init__(self, spec: Spec, url: str, headers: Mapping[str, str], config: Mapping[str, Any] | None) -> None:
        super().__init__(spec)
        self.url = url
        self.headers = dict(headers)
        self.config = config

    async def check(self, call: GuardrailCall) -> Verdict:
        payload: dict[str, Any] = {"requestBody": call.body, "context": context_of(call)}
        if self.config is not None:
            payload["config"] = self.config
        if call.stage == "output":
            payload["responseBody"] = call.response
        answer = await post_json(call, self.url, self.headers, payload)
        return self._verdict(answer, call)

    def _verdict(self, answer: Any, call: GuardrailCall) -> Verdict:
        if answer is None:
            return PASS
        if not isinstance(answer, dict):
            raise GuardrailUnavailable(f"{host_of(self.url)} answered {type(answer).__name__}, not a JSON object")
        if "verdict" not in answer:
            legacy = "choices" if call.stage == "output" else "messages"
            if legacy in answer and self.spec.operation == "mutate":
                return Verdict(rewritten=answer)
            raise GuardrailUnavailable(f"{host_of(self.url)} answered without a 'verdict'")
        if answer["verdict"] is False:
            message = answer.get("message") or answer.get("explanation") or "the guardrail server refused it"
            return Verdict(violation=str(message)[:MAX_MESSAGE])
        if answer["verdict"] is not True:
            raise GuardrailUnavailable(f"{host_of(self.url)} answered a verdict that is not true or false")
        result = answer.get("result")
        if answer.get("transformed") is True and self.spec.operation == "mutate":
            if not isinstance(result, dict):
                raise GuardrailUnavailable(f"{host_of(self.url)} answered transformed without a 'result' object")
            return Verdict(rewritten=result)
        return PASS


def auth_headers(auth: CustomBasicAuth | CustomBearerAuth | None, resolve: Callable[[str], str]) -> dict[str, str]:
    """`Authorization` for basic or bearer auth_data (secret references resolved by `resolve`)."""
    if auth is None:
        return {}
    if isinstance(auth, CustomBasicAuth):
        pair = f"{resolve(auth.username)}:{resolve(auth.password)}".encode()
        return {"authorization": "Basic " + base64.b64encode(pair).decode()}
    return {"authorization": f"Bearer {resolve(auth.bearer_token)}"}
