"""`ModelPricing.estimate`: an admission's cost estimate is `cost` of the same usage, to the last digit."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.accounting.cost import UNPRICED, ModelPricing
from tfy_gateway.gateway.accounting.pricing import Tier, TokenPrice
from tfy_gateway.gateway.providers import Usage

TIERED = TokenPrice(
    input=0.0025,
    output=0.01,
    cache_read=0.001,
    input_tiers=(Tier(0, 0.000002), Tier(128_000, 0.000004)),
    output_tiers=(Tier(200_000, 0.00002),),
)


@pytest.mark.parametrize("price", [TokenPrice(input=0.0025, output=0.01), TokenPrice(input=3.0, output=15.0), TIERED])
@pytest.mark.parametrize("discount", [0.0, 12.5, -5.0, 150.0])
@pytest.mark.parametrize("tokens", [(0, 0), (1, 256), (127_999, 64), (128_000, 200_000), (9_000_000, 1)])
def test_the_estimate_is_the_cost_of_the_same_usage(
    price: TokenPrice, discount: float, tokens: tuple[int, int]
) -> None:
    pricing = ModelPricing(price, discount)
    prompt, completion = tokens
    expected = pricing.cost(Usage(prompt_tokens=prompt, completion_tokens=completion))
    assert expected is not None
    assert pricing.estimate(prompt, completion) == expected


def test_an_unpriced_model_has_no_estimate() -> None:
    assert UNPRICED.estimate(10, 10) is None
