"""`RetryPolicy`: exponential backoff, capped, then give up."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.alerts import RetryPolicy
from tfy_gateway.gateway.settings import SettingsError, load_settings


def test_delays_double_up_to_the_cap_and_stop_after_the_last_attempt() -> None:
    policy = RetryPolicy(base_s=5, max_s=30, max_attempts=6)
    assert [policy.delay(n) for n in range(1, 7)] == [5, 10, 20, 30, 30, None]


def test_a_huge_attempt_count_does_not_overflow() -> None:
    assert RetryPolicy(base_s=1, max_s=60, max_attempts=10_000).delay(5000) == 60


def test_an_unusable_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="0 < base_s <= max_s"):
        RetryPolicy(base_s=10, max_s=5)
    with pytest.raises(ValueError, match="max_attempts >= 1"):
        RetryPolicy(max_attempts=0)


def test_the_gateway_settings_refuse_a_max_delay_below_the_base() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"alert_retry_base_s": "30"}, {"TFY_GATEWAY_ALERT_RETRY_MAX_S": "10"})
    assert (
        str(caught.value) == "TFY_GATEWAY_ALERT_RETRY_MAX_S='10': value error, must be at least alert_retry_base_s (30)"
    )
    settings = load_settings({}, {"TFY_GATEWAY_ALERT_MAX_ATTEMPTS": "3"})
    assert (settings.alert_retry_base_s, settings.alert_retry_max_s, settings.alert_max_attempts) == (5.0, 600.0, 3)
