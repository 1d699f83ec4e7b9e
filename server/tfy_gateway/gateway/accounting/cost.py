"""Cost of one request from its token usage: price x tokens, minus the account's discount.

Formula (documented in references/, tested): with prompt tokens P (OpenAI semantics: P includes
cache reads C and cache writes W), completion tokens O and prices per 1000 tokens,
`cost = ((P - C - W) * input + C * cache_read + W * cache_write + O * output) / 1000`,
then `* (1 - discount_percent / 100)`. Missing cache prices fall back to the input price. With
tiers, the tier with the largest `from` <= the token count prices every token of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from tfy_gateway.gateway.accounting.pricing import Tier, TokenPrice
from tfy_gateway.gateway.providers.base import Usage


def _tiered(tokens: int, per_thousand: float, tiers: tuple[Tier, ...]) -> float:
    """USD for `tokens` of one kind (tiers price per token; the base price per 1000)."""
    chosen = None
    for tier in tiers:
        if tokens >= tier.start:
            chosen = tier
    if chosen is not None:
        return tokens * chosen.per_token
    return tokens * per_thousand / 1000


@dataclass(frozen=True)
class ModelPricing:
    """How one model id is priced: a price (None = unknown) and the provider account's discount."""

    price: TokenPrice | None
    discount_percent: float = 0.0

    def cost(self, usage: Usage) -> float | None:
        """USD for `usage`, or None when the model has no known price."""
        price = self.price
        if price is None:
            return None
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
        uncached = usage.prompt_tokens - cached - written
        total = (
            _tiered(uncached, price.input, price.input_tiers)
            + cached * (price.input if price.cache_read is None else price.cache_read) / 1000
            + written * (price.input if price.cache_write is None else price.cache_write) / 1000
            + _tiered(usage.completion_tokens, price.output, price.output_tiers)
        )
        factor = 1.0 - min(max(self.discount_percent, 0.0), 100.0) / 100.0
        return round(total * factor, 10)

    def estimate(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """`cost` of a usage without cache reads or writes (an admission's estimate), without
        building a `Usage`: the same figure, for a fraction of the work."""
        price = self.price
        if price is None:
            return None
        if price.input_tiers or price.output_tiers:
            total = _tiered(prompt_tokens, price.input, price.input_tiers) + _tiered(
                completion_tokens, price.output, price.output_tiers
            )
        else:  # `_tiered` without tiers, the usual price
            total = prompt_tokens * price.input / 1000 + completion_tokens * price.output / 1000
        discount = self.discount_percent
        factor = 1.0 if discount == 0.0 else 1.0 - min(max(discount, 0.0), 100.0) / 100.0
        return round(total * factor, 10)


UNPRICED = ModelPricing(None)
