"""The scripted session, one function per step of the skill's workflow (see references/workflow.md).

Each step shows what the user asks, which tool the assistant calls with what, and the essential
part of the answer; it raises `StepFailed` when the answer is not what the workflow needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import yaml

from tfy_gateway.demo import scenario
from tfy_gateway.demo.session import DemoSession, StepFailed


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[DemoSession], Awaitable[None]]


async def check_connection(s: DemoSession) -> None:
    s.out.user("Which gateway are we connected to?")
    s.out.call("gateway_status")
    status = await s.call("gateway_status")
    if not (status.get("reachable") and status.get("authenticated")):
        raise StepFailed(f"the control plane is not usable: {status.get('problem')} {status.get('next_step') or ''}")
    s.user = str(status.get("user"))
    s.out.fact("control plane", f"{status['base_url']} (reachable, authenticated)")
    roles = ", ".join(status.get("roles") or []) or "no roles"
    teams = ", ".join(status.get("teams") or []) or "none"
    s.out.fact("signed in as", f"{s.user} ({roles}; teams: {teams}), tenant {status.get('tenant')}")
    s.out.fact("versions", f"MCP server {status.get('server_version')}, min CLI {status.get('min_cli_version')}")
    s.out.assistant("This is a local gateway with a fake provider: nothing here reaches production.")


async def onboard_providers(s: DemoSession) -> None:
    s.out.user(
        "Connect our OpenAI account (gpt-4o, gpt-4o-mini, text-embedding-3-small, list prices) and the "
        "Azure backup deployment of gpt-4o. The keys are in the secret store."
    )
    documents: list[str] = []
    for intent in (scenario.openai_account(s.fake_provider_url), scenario.azure_account(s.fake_provider_url)):
        label = f"provider_account {intent['name']}"
        s.out.call("gateway_check_intent", label)
        check = await s.call("gateway_check_intent", {"intent": intent})
        if not check.get("complete"):
            raise StepFailed(f"the {intent['name']} intent is incomplete: {check.get('next_question')}")
        s.out.fact("complete", f"yes, {len(check.get('defaults') or [])} default(s) will apply")
        s.out.call("gateway_render_manifest", label)
        rendered = await s.call("gateway_render_manifest", {"intent": intent})
        _require_valid(rendered, intent["name"])
        manifest = rendered["manifest"]
        models = ", ".join(i["name"] for i in manifest.get("integrations") or [])
        where = manifest.get("base_url") or manifest.get("azure_endpoint")
        s.out.fact(intent["name"], f"{manifest['type']}: {models}")
        s.out.fact("", f"at {where} (the fake provider)")
        s.out.fact("", f"API key from the secret {intent['secret']}")
        documents.append(rendered["yaml"])
    s.out.assistant("I'll include your team's existing routing config (one rule, written by hand):")
    s.out.block(scenario.EXISTING_ROUTING)
    documents.append(scenario.EXISTING_ROUTING)
    plan = await _plan(s, "---\n".join(documents), "3 documents")
    for doc in plan["documents"]:
        s.out.fact(doc["action"], f"{doc['type']} {doc['name']}")
    s.out.user("Looks right, go ahead.")
    applied = await _apply(s, plan["plan_id"])
    s.out.fact("applied", f"{len(applied['documents'])} documents, status {applied['status']}")


async def list_models(s: DemoSession) -> None:
    s.out.user("Which models can we call now?")
    s.out.call("gateway_list_models")
    page = await s.call("gateway_list_models")
    rows = [(m["id"], m.get("provider") or "?", ", ".join(m.get("model_types") or [])) for m in page["models"]]
    s.out.table(("model id", "provider", "types"), rows)
    s.out.fact("total", f"{page['total']} models")
    wanted = {scenario.PRIMARY, scenario.BACKUP, scenario.EMBEDDING}
    missing = wanted - {m["id"] for m in page["models"]}
    if missing:
        raise StepFailed(f"models missing from the catalog: {', '.join(sorted(missing))}")


async def clarify_intent(s: DemoSession) -> None:
    s.out.user(scenario.REQUEST)
    s.out.call("gateway_check_intent", _intent_summary(scenario.INCOMPLETE_ROUTE))
    check = await s.call("gateway_check_intent", {"intent": scenario.INCOMPLETE_ROUTE})
    if check.get("complete") or not check.get("next_question"):
        raise StepFailed("the incomplete route intent was reported complete; expected a clarifying question")
    s.out.fact("complete", f"no, {len(check['questions'])} open question(s)")
    s.out.assistant(str(check["next_question"]))
    s.out.user(scenario.ANSWER)
    s.out.call("gateway_check_intent", _intent_summary(scenario.COMPLETE_ROUTE))
    check = await s.call("gateway_check_intent", {"intent": scenario.COMPLETE_ROUTE})
    if not check.get("complete"):
        raise StepFailed(f"the completed route intent is still incomplete: {check.get('next_question')}")
    s.out.fact("complete", "yes; defaults the rendering will use:")
    for default in check.get("defaults") or []:
        s.out.text(f"  {default['field']} = {_short(default['value'])}  ({default['note']})")


async def render_manifest(s: DemoSession) -> None:
    s.out.call("gateway_render_manifest", _intent_summary(scenario.COMPLETE_ROUTE))
    rendered = await s.call("gateway_render_manifest", {"intent": scenario.COMPLETE_ROUTE})
    _require_valid(rendered, "the routing config")
    s.rendered_yaml = str(rendered["yaml"])
    s.out.block(s.rendered_yaml)
    kept = "merged with the live config" if rendered.get("merged_with_live") else "no live config to merge with"
    s.out.fact("rules", f"{', '.join(rendered.get('rule_ids') or [])} ({kept})")
    if "mini-to-openai" not in (rendered.get("rule_ids") or []):
        raise StepFailed("the rendered config dropped the existing rule 'mini-to-openai'")


async def validate_manifest(s: DemoSession) -> None:
    rendered = _rendered(s)
    s.out.call("gateway_validate_manifest", f"{len(rendered.splitlines())} lines of YAML")
    result = await s.call("gateway_validate_manifest", {"yaml_text": rendered})
    if not result.get("valid"):
        raise StepFailed(f"the rendered config is invalid: {_findings_text(result)}")
    checked = "against the live catalog" if result.get("catalog_checked") else "offline"
    s.out.fact("valid", f"yes: {result['errors']} errors, {result['warnings']} warnings (checked {checked})")
    broken = scenario.with_typo(rendered)
    s.out.user("What if I had typed the YAML myself, with a typo?")
    s.out.call("gateway_validate_manifest", "the same YAML with 'azure-backup/gpt4o'")
    result = await s.call("gateway_validate_manifest", {"yaml_text": broken})
    findings = result.get("findings") or []
    if result.get("valid") or not findings:
        raise StepFailed("the validator accepted a manifest with an unknown model")
    source = broken.splitlines()
    for finding in findings:
        line, column = finding.get("line"), finding.get("column")
        s.out.fact(finding["severity"], f"line {line}, column {column}: {finding['message']}")
        s.out.fact("at", finding.get("path") or "(document)")
        if isinstance(line, int) and 0 < line <= len(source):
            s.out.block(source[line - 1], prefix=f"     {line:>4} | ")
            if isinstance(column, int):
                s.out.line(f"          | {' ' * (column - 1)}^")
        if finding.get("hint"):
            s.out.fact("fix", finding["hint"])


async def plan_change(s: DemoSession) -> None:
    plan = await _plan(s, _rendered(s), "the rendered routing config")
    changed = [d for d in plan["documents"] if d["action"] != "NO_CHANGE"]
    if not changed:
        raise StepFailed("the plan changes nothing; expected an update of the routing config")
    for doc in plan["documents"]:
        s.out.fact(doc["action"], f"{doc['type']} {doc['name']}")
        if doc.get("diff"):
            s.out.diff(doc["diff"])
    s.out.fact("plan", f"{plan['plan_id']}, expires {plan['expires_at']} ({plan['expires_in_seconds'] // 60} min)")
    s.out.assistant("This adds the rule after mini-to-openai and keeps it. Apply?")


async def apply_plan(s: DemoSession) -> None:
    if s.plan_id is None:
        raise StepFailed("no plan to apply")
    s.out.user("Yes, apply it.")
    applied = await _apply(s, s.plan_id)
    for doc in applied["documents"]:
        s.out.fact(doc["action"], f"{doc['type']} {doc['name']} ({applied['status']} at {applied['applied_at']})")


async def smoke_test(s: DemoSession) -> None:
    s.out.user(f"Does '{scenario.ALIAS}' work now?")
    s.out.call("gateway_smoke_test", f"model={scenario.ALIAS!r}, max_tokens=8  x{scenario.SMOKE_REQUESTS}")
    rows = []
    resolved: Counter[str] = Counter()
    first: dict[str, Any] | None = None
    for index in range(scenario.SMOKE_REQUESTS):
        result = await _smoke(s, {"model": scenario.ALIAS, "prompt": f"ping {index + 1}", "max_tokens": 8})
        first = first or result
        resolved[str(result.get("resolved_model"))] += 1
        rows.append(_smoke_row(str(index + 1), result))
    s.out.table(("#", "resolved model", "status", "latency", "tokens", "cost"), rows)
    s.out.fact("split", ", ".join(f"{model} x{count}" for model, count in sorted(resolved.items())))
    if first is not None:
        s.out.fact("applied config", _applied(first.get("applied_configurations")))
    s.out.call("gateway_smoke_test", f"model={scenario.ALIAS!r}, stream=true")
    streamed = await _smoke(s, {"model": scenario.ALIAS, "stream": True, "max_tokens": 16})
    s.out.fact(
        "stream",
        f"{streamed.get('resolved_model')}: TTFT {streamed.get('ttft_ms')} ms, total "
        f"{streamed.get('latency_ms')} ms, {_tokens(streamed)} tokens",
    )
    s.out.fact("reply", _preview(streamed.get("output_preview")))
    if streamed.get("ttft_ms") is None:
        raise StepFailed("the streamed reply reported no time to first token")
    s.out.call("gateway_smoke_test", f"model={scenario.EMBEDDING!r}, kind=embedding")
    embedded = await _smoke(s, {"model": scenario.EMBEDDING, "kind": "embedding", "prompt": "hello gateway"})
    s.out.fact(
        "embedding",
        f"{embedded.get('output_preview')}, {embedded.get('latency_ms')} ms, cost {_cost(embedded.get('cost'))}",
    )


async def explain_route(s: DemoSession) -> None:
    subject = f"user:{s.user or 'admin@local'}"
    s.out.user(f"Why did my requests go where they went? ({subject}, {scenario.ALIAS})")
    s.out.call("gateway_explain", f"subject={subject!r}, model={scenario.ALIAS!r}")
    result = await s.call("gateway_explain", {"subject": subject, "model": scenario.ALIAS})
    explanation = result.get("explanation") or {}
    matched = explanation.get("matched_rule")
    if not matched:
        raise StepFailed(f"no routing rule matched {scenario.ALIAS} for {subject}")
    s.out.fact("subjects", ", ".join(explanation.get("subjects") or [subject]))
    s.out.fact("matched rule", f"{matched} ({explanation.get('strategy')}, config {explanation.get('config_name')})")
    rules = [
        (r.get("id"), "matched" if r.get("matched") else "skipped", r.get("reason"))
        for r in explanation.get("rules") or []
    ]
    s.out.table(("rule", "result", "why"), rules)
    candidates = explanation.get("candidates") or []
    rows = [
        (
            c.get("target"),
            c.get("weight"),
            f"{float(c.get('probability') or 0):.0%}",
            "yes" if c.get("healthy") else "no",
        )
        for c in candidates
    ]
    s.out.table(("target", "weight", "chance", "healthy"), rows)
    s.out.fact("attempt order", " -> ".join(explanation.get("attempts") or []))


async def show_usage(s: DemoSession) -> None:
    s.out.user("What did all that cost?")
    s.out.call("gateway_usage", "limit=5")
    usage = await s.call("gateway_usage", {"limit": 5})
    summary = usage.get("summary") or {}
    total = summary.get("total") or {}
    if not total.get("requests"):
        raise StepFailed("the usage summary counts no requests")
    s.out.fact(
        "last 24 h",
        f"{total['requests']} requests, {total.get('errors', 0)} errors, {total.get('prompt_tokens', 0)} prompt + "
        f"{total.get('completion_tokens', 0)} completion tokens, cost {_cost(total.get('cost'))}",
    )
    rows = [
        (m.get("model"), m.get("requests"), m.get("total_tokens"), _cost(m.get("cost")))
        for m in summary.get("by_model") or []
    ]
    s.out.table(("model", "requests", "tokens", "cost"), rows)
    s.out.fact("latest logs", f"{usage['logs_returned']} returned, newest first:")
    for log in usage.get("logs") or []:
        s.out.text(
            f"  {log.get('requested_model')} -> {log.get('resolved_model')}  {log.get('status')}  "
            f"{_ms(log.get('latency_ms'))}  rules {', '.join(log.get('rule_ids') or []) or '-'}"
        )


STEPS: tuple[Step, ...] = (
    Step("Check the connection", check_connection),
    Step("Onboard two provider accounts", onboard_providers),
    Step("List the models", list_models),
    Step("Clarify the intent", clarify_intent),
    Step("Render the manifest", render_manifest),
    Step("Validate the manifest", validate_manifest),
    Step("Plan the change (dry run)", plan_change),
    Step("Apply the reviewed plan", apply_plan),
    Step("Smoke-test through the new route", smoke_test),
    Step("Explain the routing", explain_route),
    Step("Usage and cost", show_usage),
)


# --- helpers shared by the steps ---------------------------------------------------------------


async def _plan(s: DemoSession, yaml_text: str, what: str) -> dict[str, Any]:
    s.out.call("gateway_plan", what)
    plan = await s.call("gateway_plan", {"yaml_text": yaml_text})
    s.plan_id = str(plan["plan_id"])
    return plan


async def _apply(s: DemoSession, plan_id: str) -> dict[str, Any]:
    s.out.call("gateway_apply_plan", f"plan_id={plan_id!r}")
    applied = await s.call("gateway_apply_plan", {"plan_id": plan_id})
    if applied.get("status") not in ("applied", "already_applied"):
        raise StepFailed(f"the plan was not applied: {applied.get('status')}")
    return applied


async def _smoke(s: DemoSession, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await s.call("gateway_smoke_test", arguments)
    if not result.get("ok"):
        raise StepFailed(
            f"{arguments['model']} answered {result.get('status')}: {result.get('error') or 'no error message'}"
        )
    return result


def _smoke_row(label: str, result: dict[str, Any]) -> tuple[str, ...]:
    return (
        label,
        str(result.get("resolved_model")),
        str(result.get("status")),
        _ms(result.get("latency_ms")),
        str(_tokens(result)),
        _cost(result.get("cost")),
    )


def _tokens(result: dict[str, Any]) -> object:
    usage = result.get("usage") or {}
    return usage.get("total_tokens", "?")


def _cost(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "n/a"
    # Fake requests are tiny: keep a fraction of a micro-dollar visible instead of rounding it to 0.
    return f"${value:.6f}" if value == 0 or value >= 1e-6 else f"${value:.1e}"


def _ms(value: object) -> str:
    return f"{value:.1f} ms" if isinstance(value, (int, float)) else "? ms"


def _preview(text: object, limit: int = 60) -> str:
    value = str(text or "")
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _applied(configurations: object) -> str:
    if not isinstance(configurations, dict) or not configurations:
        return "none"
    parts = []
    routing = configurations.get("load_balancing")
    if isinstance(routing, dict):
        parts.append(f"rule {routing.get('rule_id')} ({routing.get('strategy')}) -> {routing.get('target')}")
    for key, value in configurations.items():
        if key != "load_balancing":
            parts.append(f"{key}={_short(value)}")
    return "; ".join(parts)


def _require_valid(rendered: dict[str, Any], what: str) -> None:
    if not rendered.get("valid"):
        raise StepFailed(f"{what} rendered with errors: {_findings_text(rendered)}")


def _findings_text(result: dict[str, Any]) -> str:
    return "; ".join(f"line {f.get('line')}: {f.get('message')}" for f in result.get("findings") or [])


def _rendered(s: DemoSession) -> str:
    if s.rendered_yaml is None:
        raise StepFailed("nothing was rendered")
    return s.rendered_yaml


def _intent_summary(intent: dict[str, Any]) -> str:
    return "intent=" + yaml.safe_dump(intent, default_flow_style=True, width=10_000, sort_keys=False).strip()


def _short(value: object) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= 60 else text[:57] + "..."
