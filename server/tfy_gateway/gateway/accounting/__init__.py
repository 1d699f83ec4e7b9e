"""Usage and cost accounting: per-model pricing resolved per snapshot, cost per request.

`pricing_for(account, integration, table)` decides the price of a model (its integration's `cost`,
else the bundled public table) and `ModelPricing.cost(usage)` prices a request's token usage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.accounting.cost import UNPRICED, ModelPricing
from tfy_gateway.gateway.accounting.pricing import PriceTable, TokenPrice, price_from_cost


def pricing_for(account: Mapping[str, Any], integration: Mapping[str, Any], table: PriceTable) -> ModelPricing:
    """The pricing of `<account>/<integration>`: private `cost`, else public price of its model id."""
    discount = account.get("discount_percent")
    discount_percent = float(discount) if isinstance(discount, (int, float)) and not isinstance(discount, bool) else 0.0
    price = price_from_cost(integration.get("cost"))
    if price is None:
        model_id = integration.get("model_id") or integration.get("hosted_model_name")
        price = table.lookup(str(model_id)) if model_id else None
    return ModelPricing(price, discount_percent)


__all__ = ["UNPRICED", "ModelPricing", "PriceTable", "TokenPrice", "price_from_cost", "pricing_for"]
