"""The observe stage finds a request's metric series once per request shape (`request_series.py`).

Whatever sequence of requests comes, /metrics must read exactly as if each request had found its
series afresh: a shape met before never writes a series the new request would not have written
(tokens without usage, an error count for a success), and a new configuration relabels at once.
"""

from __future__ import annotations

from tests.gateway.data_plane.conftest import DataPlane
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.config import CompiledConfig
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.failures import DataPlaneError
from tfy_gateway.gateway.data_plane.recording import _genai, record
from tfy_gateway.gateway.metrics import GatewayMetrics
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


async def test_a_shapes_held_genai_series_count_what_each_observation_counts(dp: DataPlane) -> None:
    """A shape holds the GenAI series it always writes and adds to them itself: the buckets, counts
    and token sums read as the sink's own observations (`recording._genai`) of the same requests."""
    config = dp.gateway.data_plane.config.current
    held, observed = GatewayMetrics(), GatewayMetrics()
    for kind in KINDS * 2:
        ctx = request(config, kind)
        ctx.started -= 0.3 if kind == "streamed" else 0.02  # in another duration bucket than the rest
        record(ctx, held, Dropped())  # type: ignore[arg-type]
        _genai(ctx, observed, ctx.elapsed_s)
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
