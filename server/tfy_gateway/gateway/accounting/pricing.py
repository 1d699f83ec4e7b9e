"""Token prices: an integration's own `cost`, else the bundled public price table.

Prices are USD per 1000 tokens. They are resolved once per config snapshot (per model id), so
pricing a request is a few multiplications.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import ValidationError

from tfy_gateway.manifests.costs import (
    ModelCost,
    PerThousandEmbeddingTokens,
    PerThousandTokens,
    PricingTier,
    TokenPrices,
)

_DATED = re.compile(r"(?:-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)|@\d{8})$")
_INFERENCE_PROFILE = re.compile(r"^(us|eu|apac|us-gov|ca|jp|au|global)\.(?=[a-z0-9-]+\.)")  # Bedrock cross-region


@dataclass(frozen=True)
class Tier:
    """From `start` tokens on, every token costs `per_token` (USD)."""

    start: int
    per_token: float


@dataclass(frozen=True)
class TokenPrice:
    """USD per 1000 tokens; cache prices default to the input price when not given."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    input_tiers: tuple[Tier, ...] = ()
    output_tiers: tuple[Tier, ...] = ()
    source: str = "integration"  # "integration" (private cost) or "public" (bundled table)


def _tiers(tiers: list[PricingTier] | None) -> tuple[Tier, ...]:
    return tuple(sorted((Tier(tier.from_, tier.cost_per_token) for tier in tiers or ()), key=lambda t: t.start))


def _token_price(value: TokenPrices, source: str = "integration") -> TokenPrice:
    return TokenPrice(
        input=value.input,
        output=value.output,
        cache_read=value.cache_read,
        cache_write=value.cache_write,
        input_tiers=_tiers(value.input_tiers),
        output_tiers=_tiers(value.output_tiers),
        source=source,
    )


def price_from_cost(cost: ModelCost | None) -> TokenPrice | None:
    """The price an integration's `cost` block sets, or None (no cost, or `metric: public_cost`).

    Supported metrics: per_1000_tokens (input/output/cache_read/cache_write and their tiers) and
    per_1000_embedding_tokens (input only). Audio, character and page metrics are not token-priced
    and give None here, so such requests log no cost rather than a wrong one.
    """
    if isinstance(cost, PerThousandTokens):
        return _token_price(cost.value)
    if isinstance(cost, PerThousandEmbeddingTokens):
        return TokenPrice(input=cost.value, output=0.0)
    return None


class PriceTable:
    """Public prices of well-known models, keyed by upstream model id."""

    def __init__(self, prices: Mapping[str, TokenPrice]):
        self._prices = dict(prices)

    @classmethod
    def bundled(cls) -> PriceTable:
        """The table shipped as package data (`prices.json`)."""
        text = resources.files(__package__).joinpath("prices.json").read_text(encoding="utf-8")
        return cls.from_json(json.loads(text))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PriceTable:
        prices: dict[str, TokenPrice] = {}
        for model, value in (data.get("models") or {}).items():
            try:
                price = TokenPrices.model_validate(value)
            except ValidationError:
                continue  # an entry this version cannot read: the model stays unpriced
            prices[model] = TokenPrice(price.input, price.output, price.cache_read, price.cache_write, source="public")
        return cls(prices)

    def __len__(self) -> int:
        return len(self._prices)

    def lookup(self, model_id: str) -> TokenPrice | None:
        """Exact id, then without a vendor prefix (`openai/gpt-4o`) or a Bedrock inference profile's region
        (`us.anthropic.claude-…`), then without a date suffix."""
        candidates = [model_id, model_id.rsplit("/", 1)[-1]]
        candidates.append(_INFERENCE_PROFILE.sub("", model_id))
        candidates += [_DATED.sub("", candidate) for candidate in candidates]
        for candidate in candidates:
            price = self._prices.get(candidate)
            if price is not None:
                return price
        return None
