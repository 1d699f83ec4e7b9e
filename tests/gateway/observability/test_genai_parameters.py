"""`genai.parameter_fields`: the key under which a call's start attributes with the request's parameters
are kept; requests that would get different `gen_ai.request.*` attributes must never share a key."""

from __future__ import annotations

from typing import Any

from tfy_gateway.gateway.observability.export import ExportCounts
from tfy_gateway.gateway.observability.genai import parameter_fields
from tfy_gateway.gateway.observability.spans import SharedAttributes
from tfy_gateway.gateway.observability.spec import Target, TracesSpec
from tfy_gateway.gateway.observability.tracing import TracePipeline


def test_bodies_with_the_same_parameters_share_a_key_and_no_parameters_is_no_key() -> None:
    one = {"model": "m", "messages": [], "max_tokens": 8, "stop": ["END"]}
    two = {"model": "x", "messages": [{"role": "user"}], "max_tokens": 8, "stop": ["END"]}
    assert parameter_fields(one) == parameter_fields(two)
    assert hash(parameter_fields(one)) == hash(parameter_fields(two))  # a list value is kept as a tuple
    assert parameter_fields({"model": "m", "messages": []}) == ()


def test_bodies_that_give_different_attributes_get_different_keys() -> None:
    bodies: list[dict[str, Any]] = [
        {"temperature": 1},
        {"temperature": 1.0},
        {"temperature": True},
        {"temperature": 2},
        {"stop": "END"},
        {"stop": ["END"]},
        {"max_tokens": 8},
        {"max_completion_tokens": 8},
        {"max_tokens": 8, "max_completion_tokens": 9},
    ]
    keys = [parameter_fields(body) for body in bodies]
    assert len(set(keys)) == len(bodies)


def test_a_pipeline_keeps_one_shared_dict_per_target_and_parameters_and_builds_one_for_an_unhashable_value() -> None:
    pipeline = TracePipeline(TracesSpec(Target("http/protobuf", "http://127.0.0.1:9/v1/traces")), ExportCounts())
    try:
        shared = SharedAttributes({"gen_ai.request.model": "m"})
        body: dict[str, Any] = {"model": "m", "max_tokens": 8}
        first = pipeline.with_parameters(shared, parameter_fields(body), body)
        assert first == {"gen_ai.request.model": "m", "gen_ai.request.max_tokens": 8}
        assert pipeline.with_parameters(shared, parameter_fields(dict(body)), dict(body)) is first
        odd: dict[str, Any] = {"model": "m", "max_tokens": 8, "stop": [{"not": "a string"}]}
        assert pipeline.with_parameters(shared, parameter_fields(odd), odd) == first
        unknown: dict[str, Any] = {"model": "m", "max_tokens": None}
        assert pipeline.with_parameters(shared, parameter_fields(unknown), unknown) is shared
    finally:
        pipeline.close()
