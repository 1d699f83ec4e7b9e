"""Rate limits and budgets. So far only the value that admission hands to settlement."""

from tfy_gateway.gateway.limits.reservation import Reservation

__all__ = ["Reservation"]
