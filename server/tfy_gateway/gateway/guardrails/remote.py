"""One JSON POST to a guardrail service over the data plane's transport, failures made uniform.

Every way of not getting an answer (connection refused, timeout, a non-2xx status, a body that is
not JSON) raises `GuardrailUnavailable` with a message that names the service's host and the
status, never a credential; the integration's `enforcing_strategy` decides what that means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from tfy_gateway.gateway.guardrails.integration import GuardrailCall, GuardrailUnavailable
from tfy_gateway.gateway.providers.timeouts import Timeouts
from tfy_gateway.gateway.providers.transport import HttpRequest, TransportError, TransportTimeout

MAX_DETAIL = 200


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url[:40]


async def post_json(call: GuardrailCall, url: str, headers: Mapping[str, str], payload: Any) -> Any:
    """The decoded JSON answer of a 2xx response."""
    request = HttpRequest(
        url=url,
        headers={"content-type": "application/json", "accept": "application/json", **headers},
        body=orjson.dumps(payload),
        timeouts=Timeouts(connect=call.timeout_s, read=call.timeout_s, total=call.timeout_s),
    )
    host = host_of(url)
    try:
        response = await call.transport.post(request)
    except TransportTimeout:
        raise GuardrailUnavailable(f"{host} did not answer within {call.timeout_s * 1000:g} ms") from None
    except TransportError as exc:
        raise GuardrailUnavailable(f"{host} could not be reached: {exc.detail}") from None
    if not 200 <= response.status < 300:
        detail = response.body[:MAX_DETAIL].decode("utf-8", "replace")
        raise GuardrailUnavailable(f"{host} answered HTTP {response.status}: {detail}")
    if not response.body.strip():
        return None
    try:
        return orjson.loads(response.body)
    except orjson.JSONDecodeError:
        raise GuardrailUnavailable(f"{host} answered HTTP {response.status} with a body that is not JSON") from None
