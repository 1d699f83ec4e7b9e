"""`azure-content-safety` and `azure-prompt-shield`: Azure AI Content Safety's REST API.

Analyze text: POST `{endpoint}/contentsafety/text:analyze?api-version=...` with the resource key in
`Ocp-Apim-Subscription-Key`, `{text, categories, blocklistNames, outputType: FourSeverityLevels}`;
a text fails when a category's severity reaches `severity_threshold` or a blocklist matches. Long
content is sent in pieces of at most 10,000 characters (the API's limit). Prompt Shields: POST
`{endpoint}/contentsafety/text:shieldPrompt?api-version=...` `{userPrompt, documents}`; it fails when
an attack is detected. `endpoint` is `custom_host` when set, else the resource's own
`https://<resource_name>.cognitiveservices.azure.com`. Only key auth is called locally (support.py
warns about the others).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfy_gateway.gateway.guardrails import content
from tfy_gateway.gateway.guardrails.integration import (
    PASS,
    GuardrailCall,
    GuardrailUnavailable,
    RemoteGuardrail,
    Spec,
    Verdict,
)
from tfy_gateway.gateway.guardrails.remote import post_json

MAX_TEXT = 10_000


def endpoint(resource_name: str, custom_host: str | None) -> str:
    if custom_host:
        return custom_host.rstrip("/")
    return f"https://{resource_name}.cognitiveservices.azure.com"


def pieces(texts: Sequence[str], size: int = MAX_TEXT) -> list[str]:
    joined = "\n".join(text for text in texts if text.strip())
    return [joined[start : start + size] for start in range(0, len(joined), size)]


class AzureContentSafetyGuardrail(RemoteGuardrail):
    def __init__(
        self,
        spec: Spec,
        base: str,
        api_version: str,
        api_key: str,
        categories: Sequence[str],
        threshold: float,
        blocklists: Sequence[str],
    ) -> None:
        super().__init__(spec)
        self.url = f"{base}/contentsafety/text:analyze?api-version={api_version}"
        self.headers = {"ocp-apim-subscription-key": api_key}
        self.categories = list(categories)
        self.threshold = threshold
        self.blocklists = list(blocklists)

    async def check(self, call: GuardrailCall) -> Verdict:
        source = call.body if call.stage == "input" else call.response
        found: set[str] = set()
        for text in pieces(content.texts(source or {}, call.stage)):
            payload: dict[str, Any] = {"text": text, "categories": self.categories, "outputType": "FourSeverityLevels"}
            if self.blocklists:
                payload["blocklistNames"] = self.blocklists
                payload["haltOnBlocklistHit"] = False
            answer = await post_json(call, self.url, self.headers, payload)
            found |= self._found(answer)
        return Verdict("flagged by Azure Content Safety: " + ", ".join(sorted(found))) if found else PASS

    def _found(self, answer: Any) -> set[str]:
        if not isinstance(answer, dict) or not isinstance(answer.get("categoriesAnalysis"), list):
            raise GuardrailUnavailable("the Content Safety answer has no 'categoriesAnalysis'")
        found = {
            f"{item.get('category')} (severity {item.get('severity')})"
            for item in answer["categoriesAnalysis"]
            if isinstance(item, dict)
            and isinstance(item.get("severity"), int | float)
            and item["severity"] >= self.threshold
        }
        for match in answer.get("blocklistsMatch") or ():
            if isinstance(match, dict):
                found.add(f"blocklist {match.get('blocklistName')}")
        return found


class AzurePromptShieldGuardrail(RemoteGuardrail):
    def __init__(self, spec: Spec, base: str, api_version: str, api_key: str) -> None:
        super().__init__(spec)
        self.url = f"{base}/contentsafety/text:shieldPrompt?api-version={api_version}"
        self.headers = {"ocp-apim-subscription-key": api_key}

    async def check(self, call: GuardrailCall) -> Verdict:
        if call.stage == "input":
            prompt, documents = _user_prompt(call.body), []
        else:
            prompt, documents = "", pieces(content.texts(call.response or {}, "output"))
        answer = await post_json(
            call, self.url, self.headers, {"userPrompt": prompt[:MAX_TEXT], "documents": documents}
        )
        if not isinstance(answer, dict):
            raise GuardrailUnavailable("the Prompt Shields answer is not a JSON object")
        attacks = []
        if (answer.get("userPromptAnalysis") or {}).get("attackDetected") is True:
            attacks.append("user prompt")
        for index, item in enumerate(answer.get("documentsAnalysis") or ()):
            if isinstance(item, dict) and item.get("attackDetected") is True:
                attacks.append(f"document {index + 1}")
        return Verdict("prompt attack detected in " + ", ".join(attacks)) if attacks else PASS


def _user_prompt(body: Any) -> str:
    """The text of the user's messages (the prompt a shield judges), or the whole input otherwise."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list):
        user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        return "\n".join(content.texts({"messages": user}, "input"))
    return "\n".join(content.texts(body, "input"))
