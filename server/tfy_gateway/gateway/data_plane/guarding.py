"""`PolicyGuardrails`: the pipeline's `Guardrails` hook, running the applied guardrail rules.

It reads the request context once to pick the request's guardrails (the compiled config's rules that
match its model, subjects and metadata, plus those `X-TFY-GUARDRAILS` asks for) and hands back a
`GuardrailRun` (guardrails/run.py) that the pipeline drives. With no guardrail rule and no header it
returns None at once. Input guardrails check text-bearing requests (chat, completions, responses,
embeddings, images, speech, moderations); an audio upload carries no text and is not checked. Output
guardrails check chat, completions and responses answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.failures import bad_request
from tfy_gateway.gateway.data_plane.hooks import GuardrailSession
from tfy_gateway.gateway.guardrails import HEADER, Caller, GuardrailRun, RequestView
from tfy_gateway.gateway.providers import Transport

MAX_VIEWS = 1024
"""Request views remembered (a caller, its metadata and a model each); past it the memo starts again."""


class PolicyGuardrails:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        # (caller's principal, metadata, model) -> its view
        self._views: CallerMemo[RequestView] = CallerMemo(MAX_VIEWS)

    def start(self, request: RequestContext) -> GuardrailSession | None:
        compiled = request.config.guardrails
        requested = request.options.guardrails
        if requested is None and not compiled.rules:
            return None  # the common case: one attribute read and one test per request
        principal, model = request.principal, request.model
        if principal is None or model is None or request.endpoint.multipart:
            return None
        if requested is not None:
            unknown = compiled.unknown((*requested.input, *requested.output))
            if unknown:
                raise bad_request(
                    f"{HEADER} names {', '.join(repr(u) for u in unknown)}, which no guardrail group defines; "
                    f"known guardrails: {', '.join(sorted(compiled.integrations)) or 'none'}."
                )
        selection = compiled.select(model, principal.subjects, request.options.metadata, requested)
        if selection is None:
            return None
        if request.endpoint.name not in ("chat", "completions", "responses") and selection.output:
            selection = selection.without_output()
            if not selection.input:
                return None
        return GuardrailRun(selection, self._view(principal, request.options.metadata, model))

    def _view(self, principal: Principal, metadata: Mapping[str, str], model: str) -> RequestView:
        """What the guardrails know of the request besides its body, built once per caller, metadata and
        model (two frozen dataclasses a request otherwise: ~2 µs)."""
        view = self._views.get(principal, metadata, model)
        if view is None:
            caller = Caller(principal.subject, principal.kind, principal.name, principal.id)
            view = RequestView(model, caller, metadata, self.transport)
            self._views.put(principal, metadata, model, view)
        return view
