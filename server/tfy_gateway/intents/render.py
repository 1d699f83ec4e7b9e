"""`render`: a complete intent -> manifest dict, through the jinja2 templates in `templates/`.

Templates write YAML whose values are JSON-encoded scalars (valid YAML flow style), so no user
string can change the document's structure. Gateway configs are tenant singletons: the rendered
rule is merged into the live config so the other rules are kept.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jinja2
import yaml

from tfy_gateway.intents.base import IntentIncompleteError
from tfy_gateway.intents.budget import BudgetIntent, budget_context, budget_v2, budget_version
from tfy_gateway.intents.check import check_intent
from tfy_gateway.intents.guardrail import GuardrailIntent, guardrail_context, render_group
from tfy_gateway.intents.models import CONFIG_TYPES, Intent
from tfy_gateway.intents.provider_account import ProviderAccountIntent, provider_account_context
from tfy_gateway.intents.rate_limit import RateLimitIntent, rate_limit_context, rate_limit_v2, rate_limit_version
from tfy_gateway.intents.route import RouteIntent, route_context, route_placement
from tfy_gateway.intents.virtual_account import VirtualAccountIntent, virtual_account_context
from tfy_gateway.platform.merge import merge_rule

DEFAULT_CONFIG_NAMES = {"route": "routing", "rate_limit": "rate-limits", "budget": "budgets", "guardrail": "guardrails"}


def _environment() -> jinja2.Environment:
    """A fresh environment per call: cheap next to a control-plane round trip, and no global state."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tfy_gateway.intents", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = yaml_scalar
    return env


def yaml_scalar(value: Any) -> str:
    """One value as YAML 1.1 reads it back: JSON text, except floats, which JSON may write as `2e-05`
    (a string to a YAML 1.1 reader such as the platform's CLI); repr-based `2.0e-05` is a float."""
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    return json.dumps(value, ensure_ascii=False)


def render_text(template: str, context: dict[str, Any]) -> str:
    """The YAML text of one template (exposed for debugging templates)."""
    return _environment().get_template(template).render(**context)


def _context(intent: Intent) -> tuple[str, dict[str, Any]]:
    contexts: dict[type, tuple[str, Callable[[Any], dict[str, Any]]]] = {
        RouteIntent: ("route.yaml.j2", route_context),
        RateLimitIntent: ("rate_limit.yaml.j2", rate_limit_context),
        BudgetIntent: ("budget.yaml.j2", budget_context),
        ProviderAccountIntent: ("provider_account.yaml.j2", provider_account_context),
        VirtualAccountIntent: ("virtual_account.yaml.j2", virtual_account_context),
        GuardrailIntent: ("guardrail_rule.yaml.j2", guardrail_context),
    }
    template, build = contexts[type(intent)]
    return template, build(intent)


def render(intent: Intent, current_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest for a complete intent, merged into `current_config` (the live resource) if given.

    Raises `IntentIncompleteError` (carrying the check) when the intent still has open questions.
    For gateway configs the rule is added or replaced by id and other rules are kept (a route for a
    model a live rule already routes changes that rule, or goes before it: see intents.placement); for provider
    accounts, models not named by the intent are kept; for virtual accounts, grants are added.
    """
    check = check_intent(intent)
    if not check.complete:
        raise IntentIncompleteError(check)
    if isinstance(intent, RateLimitIntent) and rate_limit_version(intent) == "v2":
        return rate_limit_v2(intent)  # a named rule of its own: nothing to merge into
    if isinstance(intent, BudgetIntent) and budget_version(intent) == "v2":
        return budget_v2(intent)
    template, context = _context(intent)
    before: str | None = None
    if isinstance(intent, RouteIntent):
        live = current_config if current_config and current_config.get("type") == CONFIG_TYPES["route"] else None
        placement = route_placement(intent, live)
        context = route_context(intent, placement)
        before = placement.before
    config_type = CONFIG_TYPES.get(intent.kind)
    config_name: str | None = None
    if isinstance(intent, (RouteIntent, RateLimitIntent, BudgetIntent, GuardrailIntent)):
        config_name = intent.config_name
        current_name = current_config.get("name") if current_config else None
        context["name"] = config_name or current_name or DEFAULT_CONFIG_NAMES[intent.kind]
    manifest = yaml.safe_load(render_text(template, context))
    if not isinstance(manifest, dict):  # pragma: no cover - templates always produce a mapping
        raise RuntimeError(f"template {template} did not render a mapping")
    if config_type is not None:
        merged = merge_rule(
            current_config, manifest["rules"][0], config_type=config_type, name=manifest["name"], before=before
        )
        if config_name:  # an explicit rename wins over the live name
            merged["name"] = manifest["name"]
        return merged
    if current_config and current_config.get("type") == manifest["type"]:
        if isinstance(intent, ProviderAccountIntent):
            return _merge_account(current_config, manifest)
        if isinstance(intent, VirtualAccountIntent):
            return _merge_grants(current_config, manifest)
    return manifest


def prerequisite(intent: Intent, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A manifest to apply before `render(intent)`'s (None: none): a guardrail intent's group, merged
    into the live group `current` (its other integrations kept). `render_documents` shows how."""
    if isinstance(intent, GuardrailIntent):
        check = check_intent(intent)
        if not check.complete:
            raise IntentIncompleteError(check)
        return render_group(intent, current)
    return None


def render_documents(
    intent: Intent, current_config: dict[str, Any] | None = None, current_prerequisite: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every manifest of an intent, in apply order (the prerequisite first, if any)."""
    first = prerequisite(intent, current_prerequisite)
    return [*([first] if first is not None else []), render(intent, current_config)]


def _merge_account(current: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
    """Keep the live account's other fields and models; the intent's models replace same-named ones."""
    merged = copy.deepcopy(current)
    merged.update({k: v for k, v in rendered.items() if k != "integrations"})
    new = {item["name"]: item for item in rendered["integrations"]}
    integrations = []
    for item in current.get("integrations") or []:
        name = item.get("name") if isinstance(item, dict) else None
        integrations.append(new.pop(name) if name in new else copy.deepcopy(item))
    integrations.extend(new.values())
    merged["integrations"] = integrations
    return merged


def _merge_grants(current: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(current)
    permissions = list(merged.get("permissions") or [])
    seen = {(p.get("resource_type"), p.get("resource_fqn")) for p in permissions if isinstance(p, dict)}
    for grant in rendered["permissions"]:
        if (grant["resource_type"], grant["resource_fqn"]) not in seen:
            permissions.append(grant)
    merged["permissions"] = permissions
    return merged


def to_yaml(manifest: dict[str, Any] | list[dict[str, Any]]) -> str:
    """YAML text for showing a manifest to a person (keys in manifest order)."""
    if isinstance(manifest, list):
        return "---\n".join(yaml.safe_dump(m, sort_keys=False, allow_unicode=True) for m in manifest)
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
