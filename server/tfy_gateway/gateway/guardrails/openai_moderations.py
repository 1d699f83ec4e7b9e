"""`openai-moderations`: OpenAI's moderation endpoint, or any OpenAI-compatible `/moderations` (a
provider account's base URL, the fake provider offline).

POST `{base_url}/moderations` `{model, input: [texts]}` with the API key as a bearer token. A text
fails when the API flags it, or, with `category_thresholds`, when a listed category's score reaches
its threshold (then only the thresholds decide).
"""

from __future__ import annotations

from collections.abc import Mapping
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

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIModerationsGuardrail(RemoteGuardrail):
    def __init__(
        self, spec: Spec, base_url: str, api_key: str, model: str, thresholds: Mapping[str, float] | None
    ) -> None:
        super().__init__(spec)
        self.url = base_url.rstrip("/") + "/moderations"
        self.headers = {"authorization": f"Bearer {api_key}"}
        self.model = model
        self.thresholds = dict(thresholds) if thresholds else None

    async def check(self, call: GuardrailCall) -> Verdict:
        source = call.body if call.stage == "input" else call.response
        texts = [text for text in content.texts(source or {}, call.stage) if text.strip()]
        if not texts:
            return PASS
        answer = await post_json(call, self.url, self.headers, {"model": self.model, "input": texts})
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise GuardrailUnavailable("the moderation answer has no 'results' list")
        flagged: set[str] = set()
        for result in results:
            if isinstance(result, dict):
                flagged |= self._flagged(result)
        return Verdict("flagged by moderation: " + ", ".join(sorted(flagged))) if flagged else PASS

    def _flagged(self, result: dict[str, Any]) -> set[str]:
        scores = result.get("category_scores") or {}
        if self.thresholds is not None:
            return {name for name, limit in self.thresholds.items() if float(scores.get(name, 0.0)) >= limit}
        if not result.get("flagged"):
            return set()
        categories = result.get("categories") or {}
        return {name for name, hit in categories.items() if hit} or {"flagged"}
