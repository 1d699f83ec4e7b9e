"""Structured intents -> clarifying questions -> rendered manifests.

`check_intent` says what an intent lacks (one short question per gap, recommended option first) and
which defaults rendering will use; `render` turns a complete intent into a manifest, merged into the
live config so other rules survive.
"""

from tfy_gateway.intents.base import AppliedDefault, IntentCheck, IntentIncompleteError, Question
from tfy_gateway.intents.budget import AlertTarget, BudgetAlerts, BudgetIntent
from tfy_gateway.intents.check import check_intent
from tfy_gateway.intents.guardrail import GuardrailIntent
from tfy_gateway.intents.models import CONFIG_TYPES, INTENT_ADAPTER, Intent, parse_intent
from tfy_gateway.intents.provider_account import ProviderAccountIntent, ProviderModel
from tfy_gateway.intents.rate_limit import RateLimitIntent
from tfy_gateway.intents.render import prerequisite, render, render_documents, to_yaml
from tfy_gateway.intents.route import RetryOptions, RouteIntent, RouteTarget, StickyOptions
from tfy_gateway.intents.virtual_account import VirtualAccountIntent

__all__ = [
    "CONFIG_TYPES",
    "INTENT_ADAPTER",
    "AlertTarget",
    "AppliedDefault",
    "BudgetAlerts",
    "BudgetIntent",
    "GuardrailIntent",
    "Intent",
    "IntentCheck",
    "IntentIncompleteError",
    "ProviderAccountIntent",
    "ProviderModel",
    "Question",
    "RateLimitIntent",
    "RetryOptions",
    "RouteIntent",
    "RouteTarget",
    "StickyOptions",
    "VirtualAccountIntent",
    "check_intent",
    "parse_intent",
    "prerequisite",
    "render",
    "render_documents",
    "to_yaml",
]
