"""`multipart/form-data` bodies (audio transcriptions): parsed into the adapter's body shape, with
the upload as `file = (filename, bytes, content type)`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from tfy_gateway.gateway.data_plane.asgi import Receive, Scope, too_large
from tfy_gateway.gateway.data_plane.failures import bad_request


async def read_form(scope: Scope, receive: Receive, limit: int, headers: Mapping[str, str]) -> dict[str, Any]:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    if not headers.get("content-type", "").startswith("multipart/form-data"):
        raise bad_request("Send audio as multipart/form-data with the fields 'file' and 'model'.", "file")
    request = Request(scope, receive)
    try:
        form = await request.form(max_part_size=limit)
    except Exception as exc:  # the parser's errors are about the body's shape
        raise bad_request(f"The multipart body could not be parsed: {exc}.") from None
    body: dict[str, Any] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                body[name] = (value.filename or "audio", content, value.content_type or "application/octet-stream")
            else:
                body[name] = value
    finally:
        await form.close()
    if body.get("stream") in ("true", "false"):  # a form sends booleans as text (the SDK: stream=true)
        body["stream"] = body["stream"] == "true"
    if not isinstance(body.get("file"), tuple):
        raise bad_request("'file' is required for /audio/transcriptions: the audio file as a form upload.", "file")
    return body
