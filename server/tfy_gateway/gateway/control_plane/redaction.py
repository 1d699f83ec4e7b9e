"""What a read shows of a stored manifest: plaintext credentials replaced by `<redacted>`, URLs masked.

A manifest may carry a literal key (`api_key: sk-...`, a bearer token in `headers`, a password in a
URL) instead of a `tfy-secret://` reference. The store keeps it as written (the gateway must call
the provider with it, and `tfy apply` diffs against what was stored), but no read shows it: list and
get views, dry-run responses and the apply response's `data` are redacted. `existingManifest`, which
the `tfy` CLI diffs against the file being applied (`tfy apply --dry-run --show-diff`), shows a
stored secret only where the caller sent the very same value at the same place: the caller already
has it, and the diff shows no change there; any other stored secret is `<redacted>`, so the diff
shows that line as changed without revealing the old value. References are always shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.secrets_masking import mask_url
from tfy_gateway.manifests.secret_fields import SECRET_FIELDS, SECRET_PREFIX

REDACTED = "<redacted>"
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})
_ABSENT = object()


def _is_plain_secret(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value) and not value.startswith(SECRET_PREFIX)
    return isinstance(value, Mapping) and bool(value)  # e.g. a service-account JSON as an object


def _shown_url(value: str) -> str:
    return mask_url(value) if "@" in value or "?" in value or "#" in value else value


def redact(value: Any, known: Any = _ABSENT) -> Any:
    """A copy of `value` with plaintext secrets replaced and URLs masked; `known`, the same structure
    as the caller sent it: a secret (or URL) equal to the caller's at the same place is kept."""
    if isinstance(value, Mapping):
        redacted: dict[Any, Any] = {}
        for key, item in value.items():
            sent = known.get(key, _ABSENT) if isinstance(known, Mapping) else _ABSENT
            if sent is not _ABSENT and sent == item and (key in SECRET_FIELDS or _is_url_key(key)):
                redacted[key] = item  # the caller sent this very value
            elif key in SECRET_FIELDS and _is_plain_secret(item):
                redacted[key] = REDACTED
            elif _is_url_key(key) and isinstance(item, str):
                redacted[key] = _shown_url(item)
            elif key == "headers" and isinstance(item, Mapping):
                redacted[key] = _headers(item, sent)
            else:
                redacted[key] = redact(item, sent)
        return redacted
    if isinstance(value, list):
        sent_items = known if isinstance(known, list) else []
        return [redact(item, sent_items[i] if i < len(sent_items) else _ABSENT) for i, item in enumerate(value)]
    return value


def _is_url_key(key: Any) -> bool:
    return isinstance(key, str) and key.endswith("url")


def _headers(headers: Mapping[str, Any], sent: Any) -> dict[str, Any]:
    sent_headers = sent if isinstance(sent, Mapping) else {}
    return {
        name: REDACTED
        if str(name).lower() in SECRET_HEADERS and _is_plain_secret(value) and sent_headers.get(name) != value
        else value
        for name, value in headers.items()
    }
