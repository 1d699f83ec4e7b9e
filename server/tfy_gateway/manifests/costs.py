"""`cost` on model integrations: private pricing, or the public catalog."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.numbers import Count, Price


class PricingTier(StrictModel):
    from_: Count = Field(alias="from")
    cost_per_token: Price


class TokenPrices(StrictModel):
    """USD per 1000 tokens."""

    input: Price
    output: Price
    cache_read: Price | None = None
    cache_write: Price | None = None
    input_tiers: list[PricingTier] | None = None
    output_tiers: list[PricingTier] | None = None
    cache_read_tiers: list[PricingTier] | None = None
    cache_write_tiers: list[PricingTier] | None = None


class PerThousandTokens(StrictModel):
    metric: Literal["per_1000_tokens"]
    value: TokenPrices


class PerThousandEmbeddingTokens(StrictModel):
    metric: Literal["per_1000_embedding_tokens"]
    value: Price


class InputPrice(StrictModel):
    input: Price


class PerMillionCharacters(StrictModel):
    metric: Literal["per_million_characters"]
    value: InputPrice


class PerMinuteOfAudio(StrictModel):
    metric: Literal["per_minute_of_audio"]
    value: InputPrice


class PagePrices(StrictModel):
    pages: Price
    annotated_pages: Price | None = None


class PerThousandPages(StrictModel):
    metric: Literal["per_1000_pages"]
    value: PagePrices


class PublicCost(StrictModel):
    metric: Literal["public_cost"]


ModelCost = Annotated[
    PerThousandTokens
    | PerThousandEmbeddingTokens
    | PerMillionCharacters
    | PerMinuteOfAudio
    | PerThousandPages
    | PublicCost,
    Field(discriminator="metric"),
]
