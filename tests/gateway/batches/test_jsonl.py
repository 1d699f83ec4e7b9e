"""Batch input files are read line by line; every problem names its line."""

from __future__ import annotations

import pytest

from tests.gateway.batches.conftest import chat_line, jsonl
from tfy_gateway.gateway.batches.jsonl import MAX_REPORTED, InputFileError, for_endpoint, parse


def problems_of(content: bytes) -> list[str]:
    with pytest.raises(InputFileError) as refused:
        parse(content)
    return refused.value.problems


def test_a_good_file_gives_its_requests_numbered_from_one() -> None:
    requests = parse(jsonl([chat_line("a"), chat_line("b")]).replace(b"\n", b"\r\n"))
    assert [(r.number, r.custom_id, r.url) for r in requests] == [
        (1, "a", "/v1/chat/completions"),
        (2, "b", "/v1/chat/completions"),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"[1, 2]", "line 1 must be a JSON object, not a JSON list"),
        (b'{"method": "POST"}', "line 1: 'custom_id' must be a non-empty string"),
        (b'{"custom_id": "a", "method": "POST", "url": "/v1/files", "body": {}}', "line 1: 'url' must be one of"),
        (b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {}}', "'body.model' is required"),
        (
            b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"model": "m", "stream": true}}',
            "'body.stream' must not be true",
        ),
        (
            b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"model": "m"}, "x": 1}',
            "line 1: unknown field 'x'",
        ),
        (b"\xff\xfe", "the file is not UTF-8 (byte 0)"),
    ],
)
def test_each_kind_of_bad_line_is_named(line: bytes, problem: str) -> None:
    assert problem in problems_of(line + b"\n")[0]


def test_an_empty_line_inside_the_file_is_a_problem_and_the_message_lists_ten() -> None:
    assert problems_of(jsonl([chat_line("a")]) + b"\n" + jsonl([chat_line("b")])) == [
        "line 2 is empty (one JSON request per line)"
    ]
    assert problems_of(b"") == ["the file has no request lines"]
    with pytest.raises(InputFileError) as refused:
        parse(b"x\n" * 12)
    assert str(refused.value).count("is not valid JSON") == MAX_REPORTED and "(and 2 more)" in str(refused.value)


def test_lines_for_another_endpoint_are_named() -> None:
    requests = parse(jsonl([chat_line("a"), {**chat_line("b"), "url": "/v1/embeddings"}]))
    assert for_endpoint(requests, "/v1/embeddings") == [
        "line 1: 'url' is '/v1/chat/completions' but the batch's endpoint is '/v1/embeddings'"
    ]
