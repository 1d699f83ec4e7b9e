"""`Deadlines`: the time limits of each upstream attempt of one request, and which the client set.

`x-tfy-request-timeout` (T ms) and the gateway's `upstream_timeout_s` mean the same, for plain and
streamed requests alike (`Timeouts.within`): every attempt must connect, give its first token and
never fall silent for longer than T. A plain answer (whose first token is its whole body) thus
arrives within T; a stream starts within T and then sends something at least every T, however long
it runs. The header replaces the setting. `x-tfy-ttft-timeout-ms` (streams only) tightens the first
token's limit. Limits apply per attempt: a retry or a fallback starts afresh.

Whose limit expired decides the status: the client's own (one of its headers) is a 408, which the
router always falls back on; the gateway's is a 504, the provider was too slow.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from tfy_gateway.gateway.providers import Phase, Timeouts

REQUEST_PHASES: frozenset[Phase] = frozenset({"connect", "first_token", "read"})


@dataclass(frozen=True, slots=True)
class Deadlines:
    timeouts: Timeouts
    by_client: frozenset[Phase] = frozenset()  # the phases whose limit came from the request's headers

    def status(self, phase: Phase) -> int:
        """408 when the client's own limit of `phase` expired, else 504."""
        return 408 if phase in self.by_client else 504


GATEWAY_ONLY = Deadlines(Timeouts())  # no limit of the client's: every timeout is a 504


@functools.lru_cache(maxsize=16)
def gateway_deadlines(upstream_timeout_s: float) -> Deadlines:
    """The gateway's own limits (`upstream_timeout_s`), built once per value."""
    return Deadlines(Timeouts.within(upstream_timeout_s))


def deadlines(request_timeout_s: float | None, ttft_timeout_s: float | None, gateway: Deadlines) -> Deadlines:
    """The limits of one request's attempts: its headers' (`ttft_timeout_s` only for a stream), else
    the gateway's. The common case, no header, returns `gateway` itself."""
    if request_timeout_s is None and ttft_timeout_s is None:
        return gateway
    chosen = gateway
    if request_timeout_s is not None:
        chosen = Deadlines(Timeouts.within(request_timeout_s), REQUEST_PHASES)
    first_token = chosen.timeouts.first_token
    if ttft_timeout_s is not None and (first_token is None or ttft_timeout_s <= first_token):
        chosen = Deadlines(
            replace(chosen.timeouts, first_token=ttft_timeout_s), chosen.by_client | frozenset({"first_token"})
        )
    return chosen
