"""Usage and cost accounting: per-model pricing resolved per snapshot, cost per request.

`pricing_for(account, integration, table)` decides the price of a model (its integration's `cost`,
else the bundled public table) and `ModelPricing.cost(usage)` prices a request's token usage.
"""

from __future__ import annotations

from typing import Any

from tfy_gateway.gateway.accounting.cost import UNPRICED, ModelPricing
from tfy_gateway.gateway.accounting.pricing import PriceTable, TokenPrice, price_from_cost
from tfy_gateway.manifests.providers import (
    Integration,
    LooseIntegration,
    ProviderAccount,
    SelfHostedModel,
    VirtualModel,
    VirtualModelAccount,
)


def _model_id(integration: Integration) -> Any:
    """The upstream model id public prices are looked up by (a loose type's is unchecked)."""
    if isinstance(integration, SelfHostedModel):
        return integration.hosted_model_name
    if isinstance(integration, VirtualModel):
        return None
    if isinstance(integration, LooseIntegration):
        extra = integration.model_extra or {}
        return extra.get("model_id") or extra.get("hosted_model_name")
    return integration.model_id


def pricing_for(account: ProviderAccount, integration: Integration, table: PriceTable) -> ModelPricing:
    """The pricing of `<account>/<integration>`: private `cost`, else public price of its model id."""
    discount = None if isinstance(account, VirtualModelAccount) else account.discount_percent
    price = None if isinstance(integration, VirtualModel) else price_from_cost(integration.cost)
    if price is None:
        model_id = _model_id(integration)
        price = table.lookup(str(model_id)) if model_id else None
    return ModelPricing(price, discount or 0.0)


__all__ = ["UNPRICED", "ModelPricing", "PriceTable", "TokenPrice", "price_from_cost", "pricing_for"]
