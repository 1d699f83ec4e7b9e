"""`ScriptBatcher`: the limit scripts of concurrent requests travel to Redis in one pipeline.

Every request makes one reserve and one settle call; at concurrency, paying a round trip and the
client's per-call overhead for each is what limits throughput. Calls submitted while a pipeline is in
flight wait for the next one, which carries all of them (EVALSHA per call, no MULTI: each script is
still atomic on its own, as it is when sent alone). One pipeline is in flight at a time; a lone
request waits for nothing but its own round trip. A pipeline that fails or times out fails every
call in it with `StateStoreDown`, through the same `RedisLink` (timeout, breaker) as single calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from tfy_gateway.gateway.shared.redis import RedisLink

MAX_BATCH = 256


@dataclass
class _Call:
    operation: str
    script: AsyncScript
    keys: list[str]
    args: list[str | int]
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ScriptBatcher:
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._pending: list[_Call] = []
        self._flushing: asyncio.Task[None] | None = None
        self.round_trips = 0  # calls sent to Redis, for tests and debugging

    async def call(self, operation: str, script: AsyncScript, keys: list[str], args: list[str | int]) -> Any:
        call = _Call(operation, script, keys, args)
        self._pending.append(call)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        return await call.done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            batch = [call for call in batch if not call.done.done()]  # callers may have gone
            if not batch:
                continue
            # Metrics and logs name the batch's operation ("reserve" when it carries any admission).
            operation = next((c.operation for c in batch if c.operation == "reserve"), batch[0].operation)
            try:
                replies = await self.link.call(operation, lambda b=batch: self._send(b))  # type: ignore[misc]
            except BaseException as exc:
                for call in batch:
                    if not call.done.done():
                        call.done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for call, reply in zip(batch, replies, strict=True):
                if call.done.done():
                    continue
                if isinstance(reply, Exception):
                    call.done.set_exception(reply)
                else:
                    call.done.set_result(reply)

    async def _send(self, batch: list[_Call]) -> list[Any]:
        self.round_trips += 1
        if len(batch) == 1:  # alone: EVALSHA, loading the script on NOSCRIPT (redis-py's Script)
            call = batch[0]
            return [await call.script(keys=call.keys, args=call.args)]
        # EVALSHA in a plain pipeline (a Script in a pipeline would check SCRIPT EXISTS first: a
        # second round trip each time); a Redis that lost the scripts (restarted) gets them once.
        replies = await self._pipeline(batch)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            for script in {id(batch[i].script): batch[i].script for i in missing}.values():
                await self.link.client.script_load(script.script)
            for i, reply in zip(missing, await self._pipeline([batch[i] for i in missing]), strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        async with self.link.client.pipeline(transaction=False) as pipe:
            for call in batch:
                pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
            return list(await pipe.execute(raise_on_error=False))
