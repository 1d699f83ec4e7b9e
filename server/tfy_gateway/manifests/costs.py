"""`cost` on model integrations: private pricing, or the public catalog."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel


class PricingTier(StrictModel):
    from_: int = Field(alias="from", ge=0)
    cost_per_token: float = Field(ge=0)


class TokenPrices(StrictModel):
    """USD per 1000 tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    input_tiers: list[PricingTier] | None = None
    output_tiers: list[PricingTier] | None = None
    cache_read_tiers: list[PricingTier] | None = None
    cache_write_tiers: list[PricingTier] | None = None


class PerThousandTokens(StrictModel):
    metric: Literal["per_1000_tokens"]
    value: TokenPrices


class PerThousandEmbeddingTokens(StrictModel):
    metric: Literal["per_1000_embedding_tokens"]
    value: float = Field(ge=0)


class InputPrice(StrictModel):
    input: float = Field(ge=0)


class PerMillionCharacters(StrictModel):
    metric: Literal["per_million_characters"]
    value: InputPrice


class PerMinuteOfAudio(StrictModel):
    metric: Literal["per_minute_of_audio"]
    value: InputPrice


class PagePrices(StrictModel):
    pages: float = Field(ge=0)
    annotated_pages: float | None = Field(default=None, ge=0)


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
