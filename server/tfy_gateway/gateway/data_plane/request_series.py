"""`RequestSeries`: the metric series one request shape writes, found once per shape.

Observing a request wrote about a dozen series (the gateway's counters and histograms, the GenAI
conventions' four), each found by building a label tuple and looking it up: 8-10 µs of the ~65 µs a
plain request costs. Requests of one caller and route repeat the same labels, so the observe stage
describes a request by one key (its `Shape`: endpoint, labels, statuses, which values it carries) and
finds every series it writes with one lookup. A shape writes exactly the series the request would
have written without it: a series is created (and shown on /metrics) only when a request writes it.

The key holds only bounded values (labels from the applied configuration, HTTP statuses, flags); a
shape's labels depend on the configuration, so the cache (`GatewayMetrics.shapes`, a `tallies.ShapeCache`)
starts over when the configuration changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.observability.genai_histograms import GenAIHistograms
from tfy_gateway.gateway.observability.genai_metrics import FOLD_AT, GenAILabels
from tfy_gateway.gateway.tallies import Spread, Tally

if TYPE_CHECKING:  # imported only when a configuration exports metrics
    from tfy_gateway.gateway.observability.otlp_metrics import OtlpMetrics, OtlpShape


class SeriesLabels(NamedTuple):
    """Everything that decides which series a request writes and their labels."""

    endpoint: str
    model: str
    status: int
    origin: str | None  # errors only: where the error came from
    served: str | None
    overhead: bool  # a complete plain answer: its gateway overhead is observed
    usage: bool
    cost: bool  # usage that was priced above zero
    ttft: bool
    tries: tuple[tuple[str, int], ...]  # (target label, status) of each counted upstream try
    genai: GenAILabels


class RequestSeries:
    """What one shape writes; `observe` takes a request's values (durations, tokens, cost)."""

    __slots__ = (
        "_calls",
        "_completion",
        "_cost",
        "_errors",
        "_genai_labels",
        "_genai_ttft",
        "_histograms",
        "_input",
        "_latency",
        "_otlp",
        "_output",
        "_overhead",
        "_prompt",
        "_requests",
        "_server",
        "_tries",
        "_ttft",
    )

    def __init__(self, metrics: GatewayMetrics, labels: SeriesLabels) -> None:
        (endpoint, model, status, origin, served, overhead, usage, cost, ttft, tries, genai) = labels
        child = metrics.child
        self._requests: Tally = child(metrics.requests, endpoint, model, str(status))
        self._latency: Spread = child(metrics.latency, endpoint, model)
        self._errors: Tally | None = child(metrics.errors, endpoint, model, origin) if origin is not None else None
        self._ttft: Spread | None = child(metrics.ttft, served) if ttft and served else None
        self._prompt: Tally | None
        self._completion: Tally | None
        self._cost: Tally | None
        self._overhead: Spread | None = child(metrics.overhead, endpoint) if overhead else None
        self._prompt = self._completion = self._cost = None
        if usage and served:
            self._prompt = child(metrics.tokens, served, "prompt")
            self._completion = child(metrics.tokens, served, "completion")
            self._cost = child(metrics.cost, served) if cost else None
        self._tries: tuple[Tally, ...] = tuple(child(metrics.upstream_tries, t, str(s)) for t, s in tries)
        # The GenAI histograms' series this shape always writes, held (a created series is shown, so
        # only those every request of the shape observes; the client durations only when timed).
        # The lists of values waiting to be counted into the GenAI histograms' series of the shape (a
        # series is shown once it counted a value: those only some requests write are held too).
        histograms: GenAIHistograms = metrics.genai
        self._histograms = histograms
        operation = genai.operation
        self._server = histograms.server_duration.held((operation, genai.model, genai.error))
        self._genai_ttft = histograms.ttft.held((operation, genai.model)) if genai.ttft else None
        client = histograms.client_duration
        self._calls = tuple(None if call is None else client.held((operation, *call)) for call in genai.calls)
        self._input: list[float] | None = None
        self._output: list[float] | None = None
        if genai.tokens is not None:
            self._input = histograms.tokens.held((operation, *genai.tokens, "input"))
            self._output = histograms.tokens.held((operation, *genai.tokens, "output"))
        # The OTLP series of the shape, held once GenAI metrics are exported (per sink: a changed export
        # configuration brings a new one).
        self._genai_labels = genai
        self._otlp: OtlpShape | None = None

    def observe(
        self,
        elapsed: float,
        provider_s: float,
        ttft_s: float | None,
        usage: Any,
        cost: float | None,
        attempt_s: list[float | None],
        otlp: OtlpMetrics | None = None,
    ) -> None:
        """One request of this shape (`usage`: a `providers.Usage`, present when the shape says so), also
        into `otlp` when the GenAI metrics are exported."""
        self._requests.inc()
        self._latency.observe(elapsed)
        if self._errors is not None:
            self._errors.inc()
        if self._ttft is not None:
            self._ttft.observe(ttft_s)  # type: ignore[arg-type]  # the shape says it is known
        if self._overhead is not None:
            self._overhead.observe(max(elapsed - provider_s, 0.0))
        if self._prompt is not None:
            self._prompt.inc(usage.prompt_tokens)
            self._completion.inc(usage.completion_tokens)  # type: ignore[union-attr]  # set together
            if self._cost is not None:
                self._cost.inc(cost)  # type: ignore[arg-type]  # the shape says it is charged
        for tally in self._tries:
            tally.inc()
        self._server.append(elapsed)
        first_token = self._genai_ttft
        if first_token is not None and ttft_s is not None:  # the shape says it is known
            first_token.append(ttft_s)
        for waiting, seconds in zip(self._calls, attempt_s):  # noqa: B905  # attempts may outnumber calls
            if waiting is not None and seconds is not None:
                waiting.append(seconds)
        prompt, completion = self._input, self._output
        if prompt is not None and completion is not None:
            prompt.append(usage.prompt_tokens)
            completion.append(usage.completion_tokens)
        histograms = self._histograms
        histograms.unfolded += 1
        if histograms.unfolded >= FOLD_AT:
            histograms.fold()
        if otlp is not None:
            held = self._otlp
            if held is None or held.sink is not otlp:
                held = self._otlp = otlp.shape(self._genai_labels)
            held.record(elapsed, ttft_s, attempt_s, usage)
