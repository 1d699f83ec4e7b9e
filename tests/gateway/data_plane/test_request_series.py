"""The observe stage finds a request's metric series once per request shape (`request_series.py`).

Whatever sequence of requests comes, /metrics must read exactly as if each request had found its
series afresh: a shape met before never writes a series the new request would not have written
(tokens without usage, an error count for a success), and a new configuration relabels at once.
"""

from __future__ import annotations

import pytest

from tests.gateway.data_plane.conftest import DataPlane
from tests.gateway.observability.otlp_receiver import OtlpReceiver
from tests.gateway.observability.test_otlp_histograms import points
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.config import CompiledConfig
from tfy_gateway.gateway.data_plane import request_series
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.failures import DataPlaneError
from tfy_gateway.gateway.data_plane.recording import _model_label, record
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.observability import otlp_metrics
from tfy_gateway.gateway.observability.genai import error_type, operation, provider_name
from tfy_gateway.gateway.observability.genai_metrics import GenAISink
from tfy_gateway.gateway.observability.otlp_metrics import OtlpMetrics
from tfy_gateway.gateway.observability.spec import MetricsSpec, Target
from tfy_gateway.gateway.providers import Usage
from tfy_gateway.gateway.request_logs.record import Row
from tfy_gateway.gateway.routing import Attempt, Outcome, PlanResult
from tfy_gateway.gateway.tallies import MAX_SHAPES, ShapeCache

SERVED = "fake/gpt-4o"


class Dropped:
    def __init__(self) -> None:
        self.texts = ShapeCache()
        self.caller_texts: CallerMemo[tuple[str, str, str]] = CallerMemo(MAX_SHAPES)

    def submit_row(self, row: Row) -> None:
        pass


def request(config: CompiledConfig, kind: str, *, model: str = SERVED) -> RequestContext:
    """A finished request of one kind: answered (with usage, without, unpriced, or at a retry),
    refused, failed upstream after a fallback, streamed, or left by its client mid-call."""
    ctx = RequestContext(endpoint=ENDPOINTS["chat/completions"], config=config)
    ctx.model, ctx.model_allowed = model, True
    ctx.principal = None
    if kind == "refused":
        ctx.status, ctx.error = 429, DataPlaneError(429, "slow down", origin="rate_limiting")
        return ctx
    if kind == "client-left":
        ctx.targets_tried, ctx.attempt_s, ctx.status = [SERVED], [0.02], 499
        ctx.error = DataPlaneError(499, "gone", origin="client")
        return ctx
    served = Attempt(SERVED)
    if kind == "upstream-failed":
        tries = [(SERVED, 503), ("fake/other", 502)]
        ctx.targets_tried, ctx.attempt_s = [SERVED, "fake/other"], [0.01, 0.03]
        ctx.result = PlanResult(Outcome(502), Attempt("fake/other"), tries, 0, 1)
        ctx.status, ctx.error = 502, DataPlaneError(502, "upstream", origin="provider")
        return ctx
    ctx.targets_tried, ctx.attempt_s = [SERVED], [0.05]
    ctx.result = PlanResult(Outcome(200), served, [(SERVED, 200)], 0, 0)
    if kind == "retried":  # answered at the second try: one more upstream call, same status
        ctx.targets_tried, ctx.attempt_s = [SERVED, SERVED], [0.01, 0.05]
        ctx.result = PlanResult(Outcome(200), served, [(SERVED, 503), (SERVED, 200)], 1, 0)
    ctx.served, ctx.status, ctx.provider_s = served, 200, 0.05
    if kind in ("answered", "streamed", "unpriced", "retried"):
        ctx.usage = Usage(prompt_tokens=12, completion_tokens=30)
        ctx.cost = None if kind == "unpriced" else 0.0042
    if kind == "streamed":
        ctx.stream, ctx.ttft_s = True, 0.01
    return ctx


def genai_reference(request: RequestContext, sink: GenAISink, elapsed: float) -> None:
    """The GenAI conventions' measurements of one request, worked out afresh from the request and
    recorded one by one into `sink`: what a shape's held series must add up to."""
    operation_name = operation(request.endpoint.name)
    model = _model_label(request)
    status = request.status or 500
    sink.server_duration(elapsed, operation_name, model, error_type(status, request.error) if status >= 400 else None)
    if request.ttft_s is not None:
        sink.time_to_first_token(request.ttft_s, operation_name, model)
    catalog = request.config.catalog.entries
    if request.result is not None:
        statuses = [status for _, status in request.result.tries]
    else:  # the router never returned (the client left mid-call): the last call's status is the request's
        statuses = [status] * len(request.targets_tried)
    for target, seconds, outcome in zip(request.targets_tried, request.attempt_s, statuses, strict=False):
        entry = catalog.get(target)
        if seconds is None or entry is None:
            continue
        failed = str(outcome) if outcome >= 400 else None
        sink.client_duration(seconds, operation_name, provider_name(entry.provider), target, failed)
    usage, served = request.usage, request.served
    entry = catalog.get(served.target) if served is not None else None
    if usage is not None and entry is not None and served is not None:
        provider = provider_name(entry.provider)
        sink.token_usage(usage.prompt_tokens, operation_name, provider, served.target, "input")
        sink.token_usage(usage.completion_tokens, operation_name, provider, served.target, "output")


def rendered(metrics: GatewayMetrics) -> list[str]:
    """The data plane's samples (durations vary: only their counts and the token sums are kept)."""
    return sorted(
        line
        for line in metrics.render().decode().splitlines()
        if line.startswith(("tfy_gateway_", "gen_ai_"))
        and "_created" not in line
        and ("_seconds_" not in line or "_count" in line)
    )


KINDS = ["answered", "no-usage", "unpriced", "refused", "retried", "upstream-failed", "streamed", "client-left"]


async def test_shapes_met_before_write_what_a_fresh_lookup_writes(dp: DataPlane) -> None:
    config = dp.gateway.data_plane.config.current
    remembered, fresh = GatewayMetrics(), GatewayMetrics()
    for kind in KINDS * 2:
        record(request(config, kind), remembered, Dropped())  # type: ignore[arg-type]
        fresh.shapes = ShapeCache()  # forget every shape: each request finds its series anew
        record(request(config, kind), fresh, Dropped())  # type: ignore[arg-type]
    samples = rendered(remembered)
    assert samples == rendered(fresh)
    # What the sequence wrote, spot-checked: five answers per pass, four with usage, two 503 tries.
    assert 'tfy_gateway_tokens_total{kind="prompt",model="fake/gpt-4o"} 96.0' in samples
    assert 'tfy_gateway_upstream_tries_total{status="503",target="fake/gpt-4o"} 4.0' in samples
    assert (
        'gen_ai_server_request_duration_seconds_count{error_type="",gen_ai_operation_name="chat",'
        'gen_ai_request_model="fake/gpt-4o"} 10.0'
    ) in samples
    assert 'tfy_gateway_request_errors_total{endpoint="chat",model="fake/gpt-4o",origin="rate_limiting"} 2.0' in samples
    assert any(line.startswith("tfy_gateway_time_to_first_token_seconds_count") for line in samples)
    assert 'tfy_gateway_upstream_tries_total{status="502",target="other"} 2.0' in samples


def test_a_new_configuration_starts_the_shapes_over() -> None:
    """Target and provider labels come from the configuration's catalog: a shape found under one
    configuration is never used under another (nor under the first again, once replaced)."""
    first, second = object(), object()
    shapes = ShapeCache()
    assert shapes.get(first, ("chat", 200)) is None
    shapes.put(("chat", 200), "series")
    assert shapes.get(first, ("chat", 200)) == "series"
    assert shapes.get(second, ("chat", 200)) is None
    shapes.put(("chat", 200), "relabelled")
    assert shapes.get(second, ("chat", 200)) == "relabelled"
    assert shapes.get(first, ("chat", 200)) is None


def genai_counts(metrics: GatewayMetrics) -> list[str]:
    """The GenAI histograms' samples but the duration sums (a duration is read anew at each call)."""
    return sorted(
        line
        for line in metrics.render().decode().splitlines()
        if line.startswith("gen_ai_") and "_seconds_sum" not in line
    )


@pytest.mark.parametrize("fold_at", [1024, 3])
async def test_a_shapes_held_genai_series_count_what_each_observation_counts(
    dp: DataPlane, monkeypatch: pytest.MonkeyPatch, fold_at: int
) -> None:
    """A shape holds the GenAI series it always writes and adds to them itself: the buckets, counts
    and token sums read as the sink's own observations (`genai_reference`) of the same requests, whether
    the values waiting were counted at the scrape or every few requests on the way."""
    monkeypatch.setattr(request_series, "FOLD_AT", fold_at)
    config = dp.gateway.data_plane.config.current
    held, observed = GatewayMetrics(), GatewayMetrics()
    for kind in KINDS * 2:
        ctx = request(config, kind)
        ctx.started -= 0.3 if kind == "streamed" else 0.02  # in another duration bucket than the rest
        record(ctx, held, Dropped())  # type: ignore[arg-type]
        genai_reference(ctx, observed, ctx.elapsed_s)
    samples = genai_counts(held)
    assert samples == genai_counts(observed)
    assert any(line.startswith("gen_ai_client_token_usage_sum") and line.endswith(" 96.0") for line in samples)


async def test_a_shape_labels_its_model_as_a_fresh_lookup_does(dp: DataPlane) -> None:
    """A shape is keyed by the model as requested and whether it may be used; its label follows:
    the same model refused its use is "-", a name the configuration does not know is "other"."""
    config = dp.gateway.data_plane.config.current
    metrics = GatewayMetrics()
    for model, allowed in [(SERVED, True), (SERVED, False), ("nobody/knows", True), (SERVED, True)]:
        ctx = request(config, "refused", model=model)
        ctx.model_allowed = allowed
        record(ctx, metrics, Dropped())  # type: ignore[arg-type]
    counts = [line for line in rendered(metrics) if line.startswith("tfy_gateway_requests_total")]
    assert counts == [
        'tfy_gateway_requests_total{endpoint="chat",model="-",status="429"} 1.0',
        'tfy_gateway_requests_total{endpoint="chat",model="fake/gpt-4o",status="429"} 2.0',
        'tfy_gateway_requests_total{endpoint="chat",model="other",status="429"} 1.0',
    ]


class Exporting:
    """Stands in for the data plane's telemetry: GenAI metrics exported to `sink`."""

    def __init__(self, sink: OtlpMetrics) -> None:
        self.sink = sink

    def metrics_sink(self, spec: object) -> OtlpMetrics:
        return self.sink


def elapsed_by_kind(ctx: RequestContext) -> float:
    """A request's duration, fixed (the held and the reference records must see the same values)."""
    seconds = 0.3 if ctx.stream else 1.5 if (ctx.status or 500) >= 500 else 0.02
    return seconds + len(ctx.targets_tried) / 1000


@pytest.mark.parametrize("fold_at", [1024, 5])
@pytest.mark.parametrize("delta", [False, True])
async def test_a_shapes_held_otlp_series_export_what_each_record_exports(
    dp: DataPlane, monkeypatch: pytest.MonkeyPatch, delta: bool, fold_at: int
) -> None:
    """With GenAI metrics exported, a shape holds its OTLP series too and records into them under one
    lock: every collection (delta: each interval's own points, the held series zeroed in place between)
    exports exactly the points of the sink's own records (`genai_reference`) of the same requests,
    whether their values were folded at the collection or every few records on the way; and a new sink
    (the export configuration changed) gets the shape's records from its first request on."""
    monkeypatch.setattr(RequestContext, "elapsed_s", property(elapsed_by_kind))
    monkeypatch.setattr(otlp_metrics, "FOLD_AT", fold_at)
    config = dp.gateway.data_plane.config.current
    with OtlpReceiver() as receiver:
        spec = MetricsSpec(target=Target(protocol="http/protobuf", endpoint=receiver.metrics_url), delta=delta)
        sinks = [OtlpMetrics(spec) for _ in range(4)]
        try:
            metrics = GatewayMetrics()
            # Two intervals into the first sink, then one into a new one, each beside its reference.
            for held, reference in [sinks[:2], sinks[:2], sinks[2:]]:
                for kind in KINDS * 2:
                    ctx = request(config, kind)
                    record(ctx, metrics, Dropped(), Exporting(held))  # type: ignore[arg-type]
                    genai_reference(ctx, reference, ctx.elapsed_s)
                mine, theirs = points(held.collect()), points(reference.collect())
                assert len(theirs) == 9  # durations by error type, calls by outcome, tokens by type, ttft
                assert mine == theirs
        finally:
            for sink in sinks:
                sink.close()
