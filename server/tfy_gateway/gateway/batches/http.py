"""`/api/llm/files` and `/api/llm/batches`: OpenAI's Files and Batch APIs, in its object shapes.

    POST   files                  upload (multipart: file, purpose=batch); a batch file is checked line by line
    GET    files                  the caller's files (purpose, limit, order, after)
    GET    files/{id}             one file object
    GET    files/{id}/content     its bytes
    DELETE files/{id}
    POST   batches                {input_file_id, endpoint, completion_window: "24h", metadata}
    GET    batches                the caller's batches, newest first (limit, after)
    GET    batches/{id}
    POST   batches/{id}/cancel

Any token works (PAT or VAT); what it creates belongs to its subject, and another subject's file or
batch is answered as missing (404), admins included: batches hold prompts and answers.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import orjson

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.batches.jsonl import BATCH_URLS, InputFileError, parse
from tfy_gateway.gateway.batches.objects import WINDOWS, moved, new_batch, new_id
from tfy_gateway.gateway.batches.records import BatchRecords, BatchRow, FileRow
from tfy_gateway.gateway.batches.runner import BatchRunner
from tfy_gateway.gateway.data_plane import PREFIX as DATA_PLANE_PREFIX
from tfy_gateway.gateway.data_plane import multipart
from tfy_gateway.gateway.data_plane.asgi import JSON_TYPE, Receive, Scope, Send, read_body, send_bytes
from tfy_gateway.gateway.data_plane.endpoints import PREFIXES, route_of
from tfy_gateway.gateway.data_plane.failures import DataPlaneError, bad_request, error_json
from tfy_gateway.gateway.data_plane.headers import authorization_of, scope_headers
from tfy_gateway.gateway.errors import ApiError

PURPOSES = ("batch",)
MAX_METADATA_KEYS = 16  # OpenAI's limits on metadata
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


def prefixes() -> list[str]:
    """The paths `create_app` mounts this API at, with the data plane's aliases (/api/llm/v1/files...)."""
    return [f"{DATA_PLANE_PREFIX}{alias}{name}" for alias in ("", *PREFIXES) for name in ("files", "batches")]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one Files or Batch API request (errors in the platform's envelope)."""
    route = route_of(scope["path"][len(DATA_PLANE_PREFIX) :])
    try:
        if route.split("/", 1)[0] not in ("files", "batches"):  # a longer name (/api/llm/filesx)
            raise DataPlaneError(404, f"No data-plane endpoint /api/llm/{route}.", type="not_found_error")
        runner: BatchRunner = scope["app"].state.batches
        principal = runner.plane.config.current.identities.require(authorization_of(scope["headers"]))
        api = _Api(runner, principal, scope, receive)
        status, body, content_type = await api.dispatch(route.strip("/").split("/"), scope["method"])
    except ApiError as exc:
        await send_bytes(send, exc.status, error_json(exc), [JSON_TYPE])
        return
    await send_bytes(send, status, body, [(b"content-type", content_type)])


def _not_found(what: str, ident: str) -> DataPlaneError:
    return DataPlaneError(404, f"No {what} found with id '{ident}'.", type="invalid_request_error", param="id")


def _method(allowed: str, method: str, path: str) -> DataPlaneError:
    return DataPlaneError(405, f"Use {allowed} for /api/llm/{path}, not {method}.")


class _Api:
    def __init__(self, runner: BatchRunner, principal: Principal, scope: Scope, receive: Receive) -> None:
        self.runner = runner
        self.records: BatchRecords = runner.records
        self.principal = principal
        self.owner = principal.subject
        self.scope = scope
        self.receive = receive
        self.query = parse_qs(scope.get("query_string", b"").decode("latin-1"))

    async def dispatch(self, parts: list[str], method: str) -> tuple[int, bytes, bytes]:
        path = "/".join(parts)
        match parts, method:
            case ["files"], "POST":
                return _json(await self.upload())
            case ["files"], "GET":
                return _json(await self.list_files())
            case ["files", file_id], "GET":
                return _json((await self.file(file_id)).to_openai())
            case ["files", file_id], "DELETE":
                return _json(await self.delete_file(file_id))
            case ["files", file_id, "content"], "GET":
                content = await self.runner.store(self.records.content, self.owner, file_id)
                if content is None:
                    raise _not_found("file", file_id)
                return 200, content, b"application/octet-stream"
            case ["batches"], "POST":
                return _json(await self.create_batch())
            case ["batches"], "GET":
                return _json(await self.list_batches())
            case ["batches", batch_id], "GET":
                return _json(await self.batch(batch_id))
            case ["batches", batch_id, "cancel"], "POST":
                return _json(await self.cancel(batch_id))
            case ((["files"] | ["batches"]), _):
                raise _method("GET or POST", method, path)
            case ["files", _], _:
                raise _method("GET or DELETE", method, path)
            case ((["files", _, "content"] | ["batches", _]), _):
                raise _method("GET", method, path)
            case ["batches", _, "cancel"], _:
                raise _method("POST", method, path)
        raise DataPlaneError(404, f"No data-plane endpoint /api/llm/{path}.", type="not_found_error")

    def _param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def _limit(self, default: int, most: int) -> int:
        raw = self._param("limit")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= most:
            raise bad_request(f"'limit' must be a whole number from 1 to {most}.", "limit")
        return int(raw)

    # --- files ---------------------------------------------------------------------------------

    async def upload(self) -> dict[str, Any]:
        settings = self.runner.plane.settings
        headers = scope_headers(self.scope["headers"])
        form = await multipart.read_form(
            self.scope, self.receive, settings.max_body_bytes, headers, path="files", fields="'purpose'"
        )
        purpose = form.get("purpose")
        if purpose not in PURPOSES:
            raise bad_request(
                f"'purpose' must be one of {', '.join(PURPOSES)} (the gateway stores batch input files), "
                f"not {purpose!r}.",
                "purpose",
            )
        filename, content, _ = form["file"] if isinstance(form["file"], tuple) else form["file"][0]
        try:
            parse(content)
        except InputFileError as exc:
            raise bad_request(f"{filename}: {exc}", "file") from None
        row = FileRow(new_id("file-"), self.owner, purpose, filename, len(content), int(time.time()))
        await self.runner.store(self.records.add_file, row, content)
        return row.to_openai()

    async def list_files(self) -> dict[str, Any]:
        order = self._param("order") or "desc"
        if order not in ("asc", "desc"):
            raise bad_request("'order' must be 'asc' or 'desc'.", "order")
        limit = self._limit(10_000, 10_000)
        rows = await self.runner.store(
            self.records.files,
            self.owner,
            purpose=self._param("purpose"),
            after=self._param("after"),
            limit=limit + 1,
            newest_first=order == "desc",
        )
        return _page([row.to_openai() for row in rows], limit)

    async def file(self, file_id: str) -> FileRow:
        row = await self.runner.store(self.records.file, self.owner, file_id)
        if row is None:
            raise _not_found("file", file_id)
        return row

    async def delete_file(self, file_id: str) -> dict[str, Any]:
        if not await self.runner.store(self.records.delete_file, self.owner, file_id):
            raise _not_found("file", file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    # --- batches -------------------------------------------------------------------------------

    async def create_batch(self) -> dict[str, Any]:
        headers = scope_headers(self.scope["headers"])
        raw = await read_body(self.receive, self.runner.plane.settings.max_body_bytes, headers.get("content-length"))
        try:
            body = orjson.loads(raw or b"null")
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"The request body is not valid JSON ({exc}).") from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object with input_file_id, endpoint, completion_window.")
        unknown = sorted(set(body) - {"input_file_id", "endpoint", "completion_window", "metadata"})
        if unknown:
            raise bad_request(f"Unknown parameter '{unknown[0]}'.", unknown[0])
        endpoint = body.get("endpoint")
        if endpoint not in BATCH_URLS:
            raise bad_request(f"'endpoint' must be one of {', '.join(BATCH_URLS)}, not {endpoint!r}.", "endpoint")
        window = body.get("completion_window")
        if window not in WINDOWS:
            raise bad_request(f"'completion_window' must be one of {', '.join(WINDOWS)}.", "completion_window")
        metadata = _metadata(body.get("metadata"))
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise bad_request(
                "'input_file_id' is required: the id of a file uploaded with purpose 'batch'.", "input_file_id"
            )
        source = await self.runner.store(self.records.file, self.owner, file_id)
        if source is None:
            raise _not_found("file", file_id)
        if source.purpose != "batch":
            raise bad_request(
                f"File {file_id} has purpose '{source.purpose}'; a batch needs a 'batch' file.", "input_file_id"
            )
        batch_id = new_id("batch_")
        now = int(time.time())
        row = BatchRow(
            batch_id,
            self.owner,
            self.principal.token_id,
            "validating",
            now,
            new_batch(batch_id, file_id, endpoint, window, metadata, now),
        )
        await self.runner.store(self.records.add_batch, row)
        self.runner.wake()
        return shown(row.body)

    async def list_batches(self) -> dict[str, Any]:
        limit = self._limit(20, 100)
        rows = await self.runner.store(self.records.batches, self.owner, after=self._param("after"), limit=limit + 1)
        return _page([await self._live(row) for row in rows], limit)

    async def batch(self, batch_id: str) -> dict[str, Any]:
        row = await self.runner.store(self.records.batch, batch_id, self.owner)
        if row is None:
            raise _not_found("batch", batch_id)
        return await self._live(row)

    async def _live(self, row: BatchRow) -> dict[str, Any]:
        """The stored object, with the lines counted so far while the batch runs."""
        if row.status not in ("in_progress", "finalizing", "cancelling"):
            return shown(row.body)
        completed, failed = await self.runner.store(self.records.counts, row.id)
        counts = {**row.body["request_counts"], "completed": completed, "failed": failed}
        return shown({**row.body, "request_counts": counts})

    async def cancel(self, batch_id: str) -> dict[str, Any]:
        row = await self.runner.store(self.records.batch, batch_id, self.owner)
        if row is None:
            raise _not_found("batch", batch_id)
        if row.status in ("validating", "in_progress"):
            body = moved(row.body, "cancelling", int(time.time()))
            if await self.runner.store(
                self.records.update_batch, batch_id, "cancelling", body, ("validating", "in_progress")
            ):
                self.runner.cancel(batch_id)
                return await self._live(BatchRow(row.id, row.owner, row.token_id, "cancelling", row.created_at, body))
            row = await self.runner.store(self.records.batch, batch_id, self.owner) or row
        if row.status in ("cancelling", "cancelled"):
            return await self._live(row)
        raise DataPlaneError(
            409, f"Batch {batch_id} is {row.status}: only a validating or in-progress batch can be cancelled."
        )


def shown(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch object as answered: a timestamp or file not set yet is left out rather than null, as
    OpenAI's published schema types them (integer, string; only `metadata` may be null)."""
    return {key: value for key, value in batch.items() if value is not None or key == "metadata"}


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_METADATA_KEYS:
        raise bad_request(f"'metadata' must be an object of at most {MAX_METADATA_KEYS} string values.", "metadata")
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY or not isinstance(item, str) or len(item) > MAX_METADATA_VALUE:
            raise bad_request(
                f"'metadata.{key[:MAX_METADATA_KEY]}': keys are at most {MAX_METADATA_KEY} characters, values "
                f"strings of at most {MAX_METADATA_VALUE}.",
                "metadata",
            )
    return dict(value)


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """OpenAI's cursor page: `limit` items and whether more follow (`after` = last_id for the next)."""
    shown = items[:limit]
    return {
        "object": "list",
        "data": shown,
        "first_id": shown[0]["id"] if shown else None,
        "last_id": shown[-1]["id"] if shown else None,
        "has_more": len(items) > limit,
    }


def _json(body: dict[str, Any]) -> tuple[int, bytes, bytes]:
    return 200, orjson.dumps(body), b"application/json"
