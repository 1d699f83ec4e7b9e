"""`multipart/form-data` bodies (audio transcriptions and translations, image edits): parsed into the
adapter's body shape. An upload is `(filename, bytes, content type)`; a field sent more than once
(`timestamp_granularities[]`, `image[]`) becomes a list of its values in order, so every one of them is
forwarded, not only the last."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from tfy_gateway.gateway.data_plane.asgi import Receive, Scope, too_large
from tfy_gateway.gateway.data_plane.failures import bad_request


async def read_form(
    scope: Scope,
    receive: Receive,
    limit: int,
    headers: Mapping[str, str],
    *,
    path: str = "audio/transcriptions",
    uploads: Sequence[str] = ("file",),
    fields: str = "'model'",
) -> dict[str, Any]:
    """The form as a body; 400 unless one of `uploads` is a file upload. `fields`: the other fields the
    endpoint needs, for the message."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    wanted = " or ".join(f"'{name}'" for name in uploads)
    if not headers.get("content-type", "").startswith("multipart/form-data"):
        raise bad_request(f"Send /{path} as multipart/form-data with the fields {wanted} and {fields}.", uploads[0])
    request = Request(scope, receive)
    try:
        form = await request.form(max_part_size=limit)
    except Exception as exc:  # the parser's errors are about the body's shape
        raise bad_request(f"The multipart body could not be parsed: {exc}.") from None
    body: dict[str, Any] = {}
    try:
        for name, item in form.multi_items():
            if isinstance(item, UploadFile):
                value: Any = (item.filename or name, await item.read(), item.content_type or "application/octet-stream")
            else:
                value = item
            _add(body, name, value)
    finally:
        await form.close()
    if body.get("stream") in ("true", "false"):  # a form sends booleans as text (the SDK: stream=true)
        body["stream"] = body["stream"] == "true"
    if not any(_is_upload(body.get(name)) for name in uploads):
        raise bad_request(f"{wanted} is required for /{path}: the file as a form upload.", uploads[0])
    return body


def _add(body: dict[str, Any], name: str, value: Any) -> None:
    """A field seen again, or named `x[]`, keeps every value."""
    if name in body:
        previous = body[name]
        body[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
    else:
        body[name] = [value] if name.endswith("[]") else value


def _is_upload(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(item, tuple) for item in value)
    return isinstance(value, tuple)
