"""Knobs shape the fake provider per request: faults, pacing, lengths and required keys."""

from __future__ import annotations

import time

import httpx
import pytest

from tfy_gateway.fakeprovider import KnobError, parse_spec

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def chat(http: httpx.Client, model: str, path: str = "/v1/chat/completions", **extra: object) -> httpx.Response:
    return http.post(path, json={"model": model, **CHAT, **extra})


def test_parse_spec_types_and_errors() -> None:
    assert parse_spec("latency_ms=5, tokens=3,retry_after=1.5") == {"latency_ms": 5.0, "tokens": 3, "retry_after": 1.5}
    assert parse_spec("") == {}
    with pytest.raises(KnobError, match=r"unknown knob 'latncy_ms'; known knobs: latency_ms"):
        parse_spec("latncy_ms=5")
    with pytest.raises(KnobError, match=r"status='200'.*between 400 and 599"):
        parse_spec("status=200")
    with pytest.raises(KnobError, match=r"error_rate='2'.*between 0 and 1"):
        parse_spec("error_rate=2")
    with pytest.raises(KnobError, match="expected name=value"):
        parse_spec("tokens")


def test_bad_knob_is_a_400_in_the_providers_format(http: httpx.Client) -> None:
    response = chat(http, "gpt-4o@tokens=many")
    assert response.status_code == 400
    assert "tokens='many'" in response.json()["error"]["message"]


def test_status_alone_fails_every_request_in_openai_format(http: httpx.Client) -> None:
    for _ in range(2):
        response = chat(http, "gpt-4o@status=503")
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["type"] == "server_error" and "injected error" in error["message"]


def test_fail_first_then_succeed(http: httpx.Client) -> None:
    statuses = [chat(http, "m@fail_first=2,status=502").status_code for _ in range(4)]
    assert statuses == [502, 502, 200, 200]
    http.post("/_fake/reset")
    assert chat(http, "m@fail_first=2,status=502").status_code == 502


def test_error_every_nth(http: httpx.Client) -> None:
    statuses = [chat(http, "m@error_every=3").status_code for _ in range(6)]
    assert statuses == [200, 200, 500, 200, 200, 500]


def test_error_rate_is_a_reproducible_sequence(http: httpx.Client) -> None:
    first = [chat(http, "m@error_rate=0.5,seed=7,status=503").status_code for _ in range(12)]
    http.post("/_fake/reset")
    second = [chat(http, "m@error_rate=0.5,seed=7,status=503").status_code for _ in range(12)]
    assert first == second
    assert set(first) == {200, 503}


def test_retry_after_means_429_with_headers(http: httpx.Client) -> None:
    response = chat(http, "m@retry_after=2")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.headers["retry-after-ms"] == "2000"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_path_knobs_apply_and_model_knobs_override(http: httpx.Client) -> None:
    path = "/knobs/tokens=5/v1/chat/completions"
    assert chat(http, "m", path).json()["usage"]["completion_tokens"] == 5
    overridden = chat(http, "m@tokens=2", path).json()
    assert overridden["usage"]["completion_tokens"] == 2
    assert overridden["model"] == "m"


def test_latency_and_generation_pacing(http: httpx.Client) -> None:
    started = time.perf_counter()
    assert chat(http, "m@latency_ms=60,tokens=1").status_code == 200
    assert time.perf_counter() - started >= 0.06
    started = time.perf_counter()
    assert chat(http, "m@ttft_ms=30,tpot_ms=10,tokens=4").status_code == 200  # 30 + 3 * 10 ms
    assert time.perf_counter() - started >= 0.06


def test_stream_ttft_and_tpot(fake_url: str) -> None:
    # Lower bounds only, measured from before the request: tokens are paced against absolute deadlines
    # from the request's arrival, so none comes early, however slow the machine (a late one is fine).
    body = {"model": "m@ttft_ms=80,tpot_ms=20,tokens=5", **CHAT, "stream": True}
    started = time.perf_counter()
    arrivals = []
    with httpx.stream("POST", f"{fake_url}/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                arrivals.append(time.perf_counter() - started)
    assert len(arrivals) == 5
    assert arrivals[0] >= 0.08
    assert arrivals[-1] >= 0.08 + 4 * 0.02  # then four tokens 20 ms apart


def test_a_client_leaving_during_latency_counts_as_a_disconnect(fake_url: str, http: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):  # gives up long before the 10 minutes of latency_ms
        httpx.post(f"{fake_url}/v1/chat/completions", json={"model": "m@latency_ms=600000", **CHAT}, timeout=0.5)
    deadline = time.monotonic() + 60  # a hang guard, not a speed assertion
    while http.get("/_fake/stats").json()["disconnects"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert http.get("/_fake/stats").json() == {"requests": 1, "disconnects": 1}


def test_chunk_tokens_groups_words(fake_url: str) -> None:
    body = {"model": "m@tokens=6,chunk_tokens=3", **CHAT, "stream": True}
    text = httpx.post(f"{fake_url}/v1/chat/completions", json=body).text
    assert text.count('"content":"') == 3  # role chunk + two chunks of three words


def test_drop_after_aborts_the_stream(fake_url: str) -> None:
    body = {"model": "m@tokens=10,drop_after=2", **CHAT, "stream": True}
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{fake_url}/v1/chat/completions", json=body)


def test_api_key_knob_requires_the_key_and_never_echoes_it(http: httpx.Client) -> None:
    path = "/knobs/api_key=sk-right-key-123/v1/chat/completions"
    ok = http.post(path, json={"model": "m", **CHAT}, headers={"authorization": "Bearer sk-right-key-123"})
    assert ok.status_code == 200
    wrong = http.post(path, json={"model": "m", **CHAT}, headers={"authorization": "Bearer sk-wrong-key-456"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert "sk-wrong" not in wrong.text and "sk-right" not in wrong.text
    missing = http.post(path, json={"model": "m", **CHAT})
    assert missing.status_code == 401


def test_cached_tokens_reported(http: httpx.Client) -> None:
    usage = chat(http, "m@cached_tokens=1").json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 1


def test_recorded_requests_fingerprint_credentials(http: httpx.Client) -> None:
    http.post("/v1/chat/completions", json={"model": "m", **CHAT}, headers={"authorization": "Bearer sk-secret-999"})
    seen = http.get("/_fake/requests").json()["data"][-1]
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"].startswith("sha256:")
    assert "sk-secret-999" not in str(seen)
