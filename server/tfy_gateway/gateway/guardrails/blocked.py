"""`GuardrailBlocked`: the 400 a blocked request gets, in the platform's `guardrail_checks_failed` shape.

    {"status": "failure", "message": "Input Guardrail checks failed for integrations: [g/c]: ...",
     "error": {"message": ..., "type": "guardrail_checks_failed", "code": "400", "param": null},
     "error_origin_level": "guardrails_input",
     "guardrail_checks": {"input_guardrails": [{"guardrail_integration": "g/c", "result": "failed",
                                                "data": {"verdict": false, "explanation": "..."}}]}}

A guardrail that errored under `enforce` is listed with `"result": "error"` and `data.error`. A
rule's `custom_error_message` replaces the message, with `{{guardrail_message}}` (the default
message) and `{{failed_guardrails}}` (the comma-separated names) filled in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.guardrails.checks import Check, Stage

ERROR_TYPE = "guardrail_checks_failed"


class GuardrailBlocked(ApiError):
    def __init__(self, stage: Stage, blocking: Sequence[Check], custom_message: str | None = None) -> None:
        refs = [check.guardrail for check in blocking]
        what = "Input" if stage == "input" else "Output"
        default = f"{what} Guardrail checks failed for integrations: [{', '.join(refs)}]"
        reasons = [check.message for check in blocking if check.message]
        if reasons:
            default += ": " + "; ".join(reasons)
        message = default
        if custom_message:
            message = custom_message.replace("{{guardrail_message}}", default).replace(
                "{{failed_guardrails}}", ", ".join(refs)
            )
        key = "input_guardrails" if stage == "input" else "output_guardrails"
        super().__init__(
            400,
            message,
            type=ERROR_TYPE,
            origin=f"guardrails_{stage}",
            extra={"guardrail_checks": {key: [_entry(check) for check in blocking]}},
        )
        self.stage = stage
        self.blocking = tuple(blocking)
        self.code = "400"  # the platform's documented guardrail body keeps the status as its code


def _entry(check: Check) -> dict[str, Any]:
    if check.result == "error":
        return {"guardrail_integration": check.guardrail, "result": "error", "data": {"error": check.message}}
    return {
        "guardrail_integration": check.guardrail,
        "result": "failed",
        "data": {"verdict": False, "explanation": check.message},
    }
