"""Recorded traffic: request-log exports read back as `SimRequest`s, in time order.

Reads what the local gateway exports: `GET /api/svc/v1/llm-gateway/logs` (the `{data, pagination}`
envelope), `tfy-gateway logs --format json` (the same), a JSON list of records, or JSON lines. The
platform's own export (JSON sent by its support on request) has no documented schema, so it is not
read. What a record lacks is filled in so a replay decides as the gateway did:
- the caller's teams come from the `team` manifests of the config replayed against (records keep
  the subject only);
- the request body, unless logging bodies was on for it, is a stand-in whose token estimate is the
  recorded usage (prompt characters / 4 + `max_tokens`); the live gateway estimated from the real
  body (its `max_tokens`, else 256 output tokens), so a token limit's admission can differ by that;
- a request that was refused (no usage recorded) uses the mean usage and cost of the same caller
  and model's served requests, else the estimate of its body.
Records that never reached the limits (no caller: a bad token) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tfy_gateway.policy.clock import parse_time
from tfy_gateway.policy.traffic import SimRequest, Usage, chat_body


class LogFormatError(ValueError):
    """The file is not a request-log export this reader knows."""


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of an export file, as dicts (any of the forms in the module doc)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise LogFormatError(f"{path}: neither JSON nor JSON lines ({exc})") from None
    if isinstance(data, Mapping) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise LogFormatError(f"{path}: expected a list of request-log records or a {{data: [...]}} envelope")
    return [dict(item) for item in data]


def recorded_traffic(records: Iterable[Mapping[str, Any]]) -> list[SimRequest]:
    """The records that reached the limits, as requests in arrival order."""
    usable = [r for r in records if r.get("subject") and r.get("requested_model")]
    usable.sort(key=lambda r: (_time(r), str(r.get("id", ""))))
    means = _means(usable)
    out: list[SimRequest] = []
    for record in usable:
        model = str(record["requested_model"])
        caller = str(record["subject"])
        prompt, completion = int(record.get("prompt_tokens") or 0), int(record.get("completion_tokens") or 0)
        cost = record.get("cost")
        if prompt + completion == 0 and (caller, model) in means:
            (prompt, completion), cost = means[(caller, model)]
        body = _body(record, model, prompt, completion)
        out.append(
            SimRequest(
                at=_time(record),
                caller=caller,
                model=model,
                metadata={str(k): str(v) for k, v in (record.get("metadata") or {}).items()},
                body=body,
                usage=Usage(prompt, completion) if prompt + completion else None,
                cost=float(cost) if isinstance(cost, (int, float)) else None,
                endpoint=str(record.get("endpoint") or "chat"),
                label=str(record.get("id", "")),
                recorded=int(record["status"]) if isinstance(record.get("status"), int) else None,
            )
        )
    return out


def _time(record: Mapping[str, Any]) -> float:
    if isinstance(record.get("created_at"), (int, float)):
        return float(record["created_at"])
    return parse_time(str(record.get("time") or record.get("created_at")))


def _body(record: Mapping[str, Any], model: str, prompt: int, completion: int) -> dict[str, Any]:
    raw = record.get("request_body")
    if isinstance(raw, str):
        try:
            logged = json.loads(raw)
        except json.JSONDecodeError:
            logged = None
        if isinstance(logged, dict):
            return logged
    return chat_body(model, "x" * (4 * prompt), completion or None)


def _means(records: list[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[tuple[int, int], float | None]]:
    """Per (caller, model): the mean (prompt, completion) tokens and cost of its served requests."""
    sums: dict[tuple[str, str], list[float]] = {}
    for record in records:
        prompt, completion = int(record.get("prompt_tokens") or 0), int(record.get("completion_tokens") or 0)
        if prompt + completion == 0:
            continue
        cost = record.get("cost")
        entry = sums.setdefault((str(record["subject"]), str(record["requested_model"])), [0, 0, 0, 0.0, 0])
        entry[0] += 1
        entry[1] += prompt
        entry[2] += completion
        if isinstance(cost, (int, float)):
            entry[3] += float(cost)
            entry[4] += 1
    return {
        key: ((round(p / n), round(c / n)), (spent / priced if priced else None))
        for key, (n, p, c, spent, priced) in ((k, tuple(v)) for k, v in sums.items())
    }
