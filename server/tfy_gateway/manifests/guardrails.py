"""`gateway-guardrails-config`: which guardrails run on which requests (truefoundry-sdk 0.6.0).

Every rule whose `when` matches a request applies, and the guardrails of all of them are combined
(the platform's current documented behaviour). Guardrails are named `<group>/<integration>`, where
the group is a `provider-account/guardrail-config-group`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.names import Label, MetadataKey, RuleId


class ValuesCondition(StrictModel):
    condition: Literal["in", "not_in"]
    values: list[str] = Field(description="Model ids; `*` and shell-style globs (openai-main/gpt-4*) match several.")


class McpToolTarget(StrictModel):
    name: str
    enable_all_tools: bool = False
    enabled_tools: list[str] | None = None


class McpToolsCondition(StrictModel):
    condition: Literal["in", "not_in"]
    values: list[McpToolTarget]


class TargetConditions(StrictModel):
    model: ValuesCondition | None = None
    mcpServers: ValuesCondition | None = None
    mcpTools: McpToolsCondition | None = None


class TargetConditionGroup(StrictModel):
    operator: Literal["or"] = "or"
    conditions: TargetConditions


class SubjectConditions(StrictModel):
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None


class SubjectConditionGroup(StrictModel):
    operator: Literal["and", "or"] = Field(description="and: every condition holds; or: at least one does.")
    conditions: SubjectConditions


class GuardrailsWhen(StrictModel):
    target: TargetConditionGroup | None = None
    subjects: SubjectConditionGroup | None = None
    metadata: dict[MetadataKey, str] | None = Field(
        default=None, description="Key/values that must all be present in the request's X-TFY-METADATA."
    )


class GuardrailsRule(StrictModel):
    id: RuleId
    when: GuardrailsWhen
    llm_input_guardrails: list[str] = Field(description="`<group>/<integration>` run on the request.")
    llm_output_guardrails: list[str] = Field(description="`<group>/<integration>` run on the model's answer.")
    mcp_tool_pre_invoke_guardrails: list[str]
    mcp_tool_post_invoke_guardrails: list[str]
    custom_error_message: str | None = Field(
        default=None,
        description="Message of a block by this rule's guardrails; {{guardrail_message}} and "
        "{{failed_guardrails}} are replaced.",
    )


class GuardrailsConfig(StrictModel):
    name: Label
    type: Literal["gateway-guardrails-config"]
    rules: list[GuardrailsRule]
