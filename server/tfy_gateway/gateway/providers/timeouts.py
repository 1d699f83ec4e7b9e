"""`Timeouts`: the time limits of one upstream attempt, one per phase, meaning the same for a plain
call and a streamed one.

    connect      from the start of the attempt until a connection to the provider is open (TCP and
                 TLS; a pooled connection is open at once).
    first_token  from the start of the attempt until the first piece of the answer's content is in
                 hand: a stream's first chunk (until then a failure can still be retried or fall
                 back); a plain call's whole body, which is its first and only piece.
    read         the longest silence once the request is on its way: waiting for the answer's
                 headers, and between two pieces of its body.
    total        from the start of the attempt until the answer is complete: a plain call's body, a
                 stream's last event.

Each is in seconds; None sets no limit for that phase. The transport enforces connect, read and
total (and a plain call's first_token, which ends with its body); the stream reader enforces a
stream's first_token, since only it knows what a chunk is. An expired limit raises
`TransportTimeout` / `UpstreamTimeout` naming its phase, so the data plane can tell whose limit it
was (the client's own is a 408, the gateway's a 504).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Phase = Literal["connect", "first_token", "read", "total"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float | None = None
    first_token: float | None = None
    read: float | None = None
    total: float | None = None

    @classmethod
    def within(cls, seconds: float) -> Timeouts:
        """Connect, give the first token and never fall silent for longer than `seconds`, however
        long the whole answer takes: what `x-tfy-request-timeout` and `upstream_timeout_s` mean."""
        return cls(connect=seconds, first_token=seconds, read=seconds)

    def limit(self, phase: Phase) -> float | None:
        value: float | None = getattr(self, phase)
        return value

    def overall(self, *, streaming: bool) -> tuple[float | None, Phase]:
        """The transport's limit on the whole exchange, and the phase it stands for: a stream's total
        (its first token is its reader's); for a plain call, whose body is its first token, the
        tighter of first_token and total (first_token on a tie)."""
        first, total = self.first_token, self.total
        if streaming or (total is not None and (first is None or total < first)):
            return total, "total"
        return first, "first_token"


NO_TIMEOUTS = Timeouts()
