"""Offline targets: every account answered by the fake provider by wire format; secrets get a placeholder."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.providers import SecretError, SecretResolver, UpstreamTarget
from tfy_gateway.gateway.providers.offline import OFFLINE_SECRET, offline_target

FAKE = "http://127.0.0.1:4321"


@pytest.mark.parametrize(
    ("wire_format", "base_url", "expected"),
    [
        ("openai", "https://api.openai.com/v1", f"{FAKE}/v1"),
        ("openai", "https://api.groq.com/openai/v1", f"{FAKE}/v1"),
        ("openai", "https://integrate.api.nvidia.com/v1", f"{FAKE}/v1"),
        ("anthropic", "https://api.anthropic.com/v1", f"{FAKE}/v1"),
        ("azure-openai", "https://example-resource.openai.azure.com", FAKE),
        ("openai", f"{FAKE}/knobs/fail=500/v1", f"{FAKE}/knobs/fail=500/v1"),  # already there: kept as is
    ],
)
def test_every_target_goes_to_the_fake_provider(wire_format: str, base_url: str, expected: str) -> None:
    target = UpstreamTarget(wire_format=wire_format, provider="x", base_url=base_url, model_id="m")  # type: ignore[arg-type]
    assert offline_target(target, FAKE).base_url == expected
    assert offline_target(target, FAKE + "/").base_url == expected


def test_a_secret_without_a_value_is_a_placeholder_only_offline() -> None:
    reference = "tfy-secret://local:nvidia:API_KEY"
    with pytest.raises(SecretError, match="TFY_SECRET_NVIDIA_API_KEY"):
        SecretResolver(environ={}).resolve(reference)
    assert SecretResolver(environ={}, placeholder=OFFLINE_SECRET).resolve(reference) == OFFLINE_SECRET
    given = SecretResolver({"nvidia": {"API_KEY": "real"}}, environ={}, placeholder=OFFLINE_SECRET)
    assert given.resolve(reference) == "real"  # a value that exists is used, offline too
