"""`gateway-guardrails-config`: schema only; the local gateway does not run guardrails yet."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.names import Label, MetadataKey, RuleId


class ValuesCondition(StrictModel):
    condition: Literal["in", "not_in"]
    values: list[str]


class TargetConditions(StrictModel):
    model: ValuesCondition | None = None
    mcpServers: ValuesCondition | None = None
    mcpTools: dict[str, object] | None = None


class TargetConditionGroup(StrictModel):
    operator: Literal["or"] = "or"
    conditions: TargetConditions


class SubjectConditions(StrictModel):
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None


class SubjectConditionGroup(StrictModel):
    operator: Literal["and", "or"] = "and"
    conditions: SubjectConditions


class GuardrailsWhen(StrictModel):
    target: TargetConditionGroup | None = None
    subjects: SubjectConditionGroup | None = None
    metadata: dict[MetadataKey, str] | None = None


class GuardrailsRule(StrictModel):
    id: RuleId
    when: GuardrailsWhen
    llm_input_guardrails: list[str]
    llm_output_guardrails: list[str]
    mcp_tool_pre_invoke_guardrails: list[str]
    mcp_tool_post_invoke_guardrails: list[str]
    custom_error_message: str | None = None


class GuardrailsConfig(StrictModel):
    name: Label
    type: Literal["gateway-guardrails-config"]
    rules: list[GuardrailsRule]
