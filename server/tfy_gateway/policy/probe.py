"""`tfy-gateway probe limits URL`: measure a gateway's request rate limit from the outside.

For any OpenAI-compatible gateway, with the token and model the user names and a ceiling of requests
and tokens it may spend (announced before the first request; it never goes past it):
1. **Fill**: one request every window/limit seconds (limit and window from the first answer's
   `x-ratelimit-*` headers, else `--window` and a burst), then a burst until the first 429: the limit.
2. **Recovery**: from the 429's `retry-after` on, a request every `resolution` seconds; each time one
   is admitted, a burst counts how much capacity came back. A sliding window frees capacity in steps
   (one per bucket that expires), a fixed window all at once.
3. **Report**: the limit, how long after a request its capacity came back (the window, within one
   bucket), the steps (the bucket size), whether `retry-after` and `x-ratelimit-reset-*` predicted the
   recovery, and spending; beside what the config says when given.
Probe requests are the smallest a chat model answers: a 2-character prompt and `max_tokens: 1`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import anyio
import httpx

PROMPT_TOKENS = 1
REQUEST_TOKENS = PROMPT_TOKENS + 1  # the prompt and one answer token
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]
ClientFactory = Callable[[], httpx.AsyncClient]


class CeilingReached(Exception):
    """The announced ceiling would be passed by the next request."""


@dataclass(frozen=True)
class Answer:
    at: float
    status: int
    headers: dict[str, str]
    tokens: int


@dataclass
class Recovery:
    at: float  # when the poll was admitted
    freed: int  # requests admitted from then on until the next 429 (the poll included)


@dataclass
class ProbeResult:
    ceiling_requests: int
    ceiling_tokens: int
    sent: int = 0
    tokens: int = 0
    limit: int | None = None  # requests admitted before the first 429
    declared_limit: float | None = None  # x-ratelimit-limit-requests
    window_s: float | None = None  # from a request to its capacity coming back
    shape: str = "unknown"  # "sliding" | "fixed" | "unknown"
    steps: list[Recovery] = field(default_factory=list)
    step_s: float | None = None  # the shortest time between two recoveries: the bucket, at most
    retry_after_s: float | None = None  # what the first 429 said
    refused_at: float | None = None  # when the first 429 came
    reset_s: float | None = None  # x-ratelimit-reset-requests of the first answer
    headers: list[str] = field(default_factory=list)  # the x-ratelimit-* / retry-after headers seen
    resolution_s: float = 1.0
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None  # why it stopped early (ceiling)

    @property
    def retry_after_error_s(self) -> float | None:
        """How far the first 429's retry-after was from when capacity came back (+: it came later)."""
        if self.retry_after_s is None or self.refused_at is None or not self.steps:
            return None
        return self.steps[0].at - (self.refused_at + self.retry_after_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ceiling": {"requests": self.ceiling_requests, "tokens": self.ceiling_tokens},
            "spent": {"requests": self.sent, "tokens": self.tokens},
            "limit": self.limit,
            "declared_limit": self.declared_limit,
            "window_s": self.window_s,
            "shape": self.shape,
            "step_s": self.step_s,
            "recoveries": [{"at": r.at, "freed": r.freed} for r in self.steps],
            "retry_after_s": self.retry_after_s,
            "retry_after_error_s": self.retry_after_error_s,
            "reset_s": self.reset_s,
            "headers": self.headers,
            "resolution_s": self.resolution_s,
            "notes": self.notes,
            "stopped": self.stopped,
        }


class Prober:
    def __init__(
        self,
        url: str,
        token: str,
        model: str,
        *,
        max_requests: int,
        max_tokens: int,
        resolution_s: float = 1.0,
        window_s: float | None = None,
        clock: Clock = time.time,
        sleep: Sleep = anyio.sleep,
        client: ClientFactory | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.model = model
        self.clock = clock
        self.sleep = sleep
        self.client = client or (lambda: httpx.AsyncClient(timeout=60.0))
        self.window_hint = window_s
        self.result = ProbeResult(max_requests, max_tokens, resolution_s=resolution_s)
        self._largest = 0

    async def run(self) -> ProbeResult:
        try:
            await self._probe()
        except CeilingReached as stop:
            self.result.stopped = str(stop)
        return self.result

    async def send(self) -> Answer:
        result = self.result
        # A provider may count a few more tokens than the request's two (a chat template): the most
        # any answer used so far stands for the next one.
        next_tokens = max(REQUEST_TOKENS, self._largest)
        if result.sent + 1 > result.ceiling_requests or result.tokens + next_tokens > result.ceiling_tokens:
            raise CeilingReached(
                f"the announced ceiling ({result.ceiling_requests} requests, {result.ceiling_tokens} tokens) is reached"
            )
        body = {"model": self.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
        async with self.client() as client:
            response = await client.post(
                f"{self.url}/chat/completions", json=body, headers={"authorization": f"Bearer {self.token}"}
            )
        result.sent += 1
        usage = _usage(response) if response.status_code < 400 else 0
        used = usage or (REQUEST_TOKENS if response.status_code < 400 else 0)
        result.tokens += used
        self._largest = max(self._largest, used)
        headers = {k.lower(): v for k, v in response.headers.items()}
        for name in headers:
            if (name.startswith("x-ratelimit-") or name == "retry-after") and name not in result.headers:
                result.headers.append(name)
        return Answer(self.clock(), response.status_code, headers, usage)

    async def _probe(self) -> None:
        result = self.result
        first = await self.send()
        if first.status == 429:
            result.limit = 0
            result.notes.append("the first request was refused: the limit is already used up, or 0")
            return
        if first.status >= 400:
            result.notes.append(f"the first request failed with {first.status}: check the URL, token and model")
            return
        result.declared_limit = _number(first.headers.get("x-ratelimit-limit-requests"))
        result.reset_s = _number(first.headers.get("x-ratelimit-reset-requests"))
        window = self.window_hint or result.reset_s or 60.0
        sent_at = [first.at]
        refused = await self._fill(sent_at, window)
        result.limit = len(sent_at)
        result.retry_after_s = _number(refused.headers.get("retry-after"))
        result.refused_at = refused.at
        await self._recover(sent_at, refused)

    async def _fill(self, sent_at: list[float], window: float) -> Answer:
        """Spread requests over the window while the declared limit allows, then burst to the 429."""
        declared = self.result.declared_limit
        if declared is not None and declared > 1:
            pace = window / declared
            while len(sent_at) < declared - 1:
                await self.sleep(pace)
                answer = await self.send()
                if answer.status == 429:
                    return answer
                sent_at.append(answer.at)
        while True:
            answer = await self.send()
            if answer.status == 429:
                return answer
            sent_at.append(answer.at)

    async def _recover(self, sent_at: list[float], refused: Answer) -> None:
        """Poll from the 429's retry-after until the capacity of every fill request came back."""
        result = self.result
        wait = result.retry_after_s if result.retry_after_s is not None else result.resolution_s
        await self.sleep(max(wait - result.resolution_s, 0.0))
        freed = 0
        deadline = refused.at + 2 * (self.window_hint or result.reset_s or 60.0) + 2 * (result.retry_after_s or 0)
        while freed < len(sent_at) and self.clock() <= deadline:
            answer = await self.send()
            if answer.status == 429:
                await self.sleep(result.resolution_s)
                continue
            count = 1
            while (await self.send()).status != 429:
                count += 1
            result.steps.append(Recovery(answer.at, count))
            if freed == 0:
                result.window_s = answer.at - sent_at[0]
            freed += count
        times = [step.at for step in result.steps]
        if len(times) >= 2:
            result.shape = "sliding"
            result.step_s = min(b - a for a, b in pairwise(times))
        elif len(times) == 1 and result.steps[0].freed >= len(sent_at):
            spread = sent_at[-1] - sent_at[0]
            result.shape = "fixed" if spread > result.resolution_s * 2 else "unknown"
            if result.shape == "unknown":
                result.notes.append("every request fell in one bucket: the window's shape cannot be told")


def _usage(response: httpx.Response) -> int:
    try:
        body = response.json()
    except ValueError:
        return 0
    usage = body.get("usage") if isinstance(body, dict) else None
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    return int(total) if isinstance(total, int) else 0


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def format_probe(result: ProbeResult, expected: tuple[int, float] | None = None) -> str:
    """The findings, beside the config's limit and window (`expected`: requests, window seconds)."""
    lines = [_limit_line(result)]
    if result.window_s is not None:
        lines.append(
            f"window: capacity came back {result.window_s:.1f} s after the request that used it "
            f"(polled every {result.resolution_s:g} s)"
        )
    lines.append(_shape_line(result))
    error = result.retry_after_error_s
    if result.retry_after_s is not None and error is not None:
        accurate = "accurate" if abs(error) <= result.resolution_s + 1 else "NOT accurate"
        lines.append(
            f"retry-after: the first 429 said {result.retry_after_s:g} s; capacity came back {error:+.1f} s from "
            f"then ({accurate} at a {result.resolution_s:g} s resolution)"
        )
    lines.append(f"headers seen: {', '.join(sorted(result.headers)) or 'none'}")
    if expected is not None:
        lines.append(_versus(result, *expected))
    lines.append(
        f"spent: {result.sent} requests, {result.tokens} tokens "
        f"(ceiling: {result.ceiling_requests} requests, {result.ceiling_tokens} tokens)"
    )
    if result.stopped:
        lines.append(f"stopped early: {result.stopped}")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def _limit_line(result: ProbeResult) -> str:
    if result.limit is None:
        return "limit: not measured"
    declared = f" (x-ratelimit-limit-requests says {result.declared_limit:g})" if result.declared_limit else ""
    return f"limit: {result.limit} requests admitted before the first 429{declared}"


def _shape_line(result: ProbeResult) -> str:
    if result.shape == "sliding" and result.step_s is not None:
        frees = ", ".join(str(step.freed) for step in result.steps)
        return (
            f"shape: sliding: capacity came back in {len(result.steps)} steps ({frees} requests) at least "
            f"{result.step_s:.1f} s apart (the bucket)"
        )
    return f"shape: {result.shape}"


def _versus(result: ProbeResult, limit: int, window: float) -> str:
    verdict = []
    if result.limit is not None:
        verdict.append("limit matches" if result.limit == limit else f"limit differs ({result.limit} != {limit})")
    if result.window_s is not None:
        bucket = result.step_s or window / 6
        close = abs(result.window_s - window) <= bucket + result.resolution_s
        verdict.append("window matches within a bucket" if close else f"window differs ({result.window_s:.1f} s)")
    return f"the config says: {limit} requests per {window:g} s: {'; '.join(verdict) or 'nothing measured'}"


def announce(url: str, model: str, max_requests: int, max_tokens: int) -> str:
    """What the probe may spend, said before it sends anything."""
    return (
        f"probing {url} with model {model}: at most {max_requests} requests and {max_tokens} tokens "
        f"(each request: a 2-character prompt and max_tokens 1)"
    )
