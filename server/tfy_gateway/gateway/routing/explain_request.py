"""The body of `POST /api/svc/v1/llm-gateway/explain`, parsed into a `RouteRequest`.

Body: {"model": "<requested model>", "subjects": ["user:a@x", ...]?, "metadata": {"k": "v"}?,
"headers": {"x-user-id": "..."}?}. Without `subjects`, the caller's own subjects are used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfy_gateway.gateway.routing.types import RouteRequest

EXAMPLE = '{"model": "openai-main/gpt-4o", "subjects": ["user:a@x.com"], "metadata": {"env": "dev"}}'
FIELDS = ("model", "subjects", "metadata", "headers")


def parse_explain_body(body: Any, default_subjects: Sequence[str] = ()) -> RouteRequest:
    """Raises ValueError with a message fit for a 400/422 response."""
    if not isinstance(body, Mapping):
        raise ValueError(f"the explain body must be a JSON object, e.g. {EXAMPLE}")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} in the explain body; allowed: {', '.join(FIELDS)}")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"'model' is required: the model name a request would ask for, e.g. {EXAMPLE}")
    subjects = body.get("subjects")
    if subjects is None:
        subjects = list(default_subjects)
    elif not isinstance(subjects, list) or not all(isinstance(s, str) and s for s in subjects):
        raise ValueError('\'subjects\' must be a list of strings such as "user:a@x.com" or "team:ml"')
    return RouteRequest(
        model=model.strip(),
        subjects=tuple(subjects),
        metadata=_strings(body.get("metadata"), "metadata", lower=False),
        headers=_strings(body.get("headers"), "headers", lower=True),
    )


def _strings(value: Any, name: str, *, lower: bool) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f'\'{name}\' must be an object of string keys and string values, e.g. {{"env": "dev"}}')
    return {k.lower() if lower else k: v for k, v in value.items()}
