"""Guardrails: the platform's guardrail rules and integrations, compiled at apply time, run as a
pipeline stage (input before and alongside the model call, output before the answer goes out).

- compiled.py: `CompiledGuardrails` (rules, integrations, timeout) and `compile_guardrails`;
- run.py: `GuardrailRun`, one request's guardrails in the platform's order and modes;
- one module per integration (regex, pii, secret_detection, sql_sanitizer, code_safety, tfy_metadata,
  custom, opa, openai_moderations, azure_content_safety), built by registry.py;
- support.py: what applying a guardrail manifest to this gateway must warn about or refuse.
"""

from tfy_gateway.gateway.guardrails.blocked import GuardrailBlocked
from tfy_gateway.gateway.guardrails.checks import Check
from tfy_gateway.gateway.guardrails.compiled import CompiledGuardrails, Selection, compile_guardrails
from tfy_gateway.gateway.guardrails.header import HEADER, RequestedGuardrails, parse_guardrails_header
from tfy_gateway.gateway.guardrails.integration import Caller
from tfy_gateway.gateway.guardrails.run import GuardrailRun, RequestView

__all__ = [
    "HEADER",
    "Caller",
    "Check",
    "CompiledGuardrails",
    "GuardrailBlocked",
    "GuardrailRun",
    "RequestView",
    "RequestedGuardrails",
    "Selection",
    "compile_guardrails",
    "parse_guardrails_header",
]
