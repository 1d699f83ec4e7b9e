"""`SimRequest` and `SimOutcome`: one simulated data-plane request and what the gateway did with it.

A request is a shape (who, which model, metadata, headers, body) at a moment of simulated time,
with the usage the provider reports for it (or None: the gateway's own estimate stands in). The
same values describe generated traffic, a policy-test case's requests and a replayed request log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.accounting.estimate import prompt_tokens
from tfy_gateway.gateway.applied import AppliedRule
from tfy_gateway.gateway.limits import Refusal
from tfy_gateway.gateway.limits.tokens import DEFAULT_COMPLETION_TOKENS

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Usage:
    """Tokens the provider reports for an answer."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class SimRequest:
    at: float  # epoch seconds on the simulated clock
    caller: str  # user:<email> or virtualaccount:<name>
    model: str
    teams: tuple[str, ...] = ()  # besides those the config's team manifests give the caller
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # lowercased keys
    body: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    usage: Usage | None = None  # None: the answer uses what the body's estimate says
    cost: float | None = None  # USD of the answer; None: priced by the config's catalog
    endpoint: str = "chat"  # the endpoint's name, as request logs record it: chat, completions, embeddings...
    admin: bool = False
    label: str = ""  # how reports name it: a log record id, a caller name
    recorded: int | None = None  # the status the gateway answered when it was recorded

    def answered_usage(self) -> Usage:
        """What the answer consumes: the given usage, else the estimate's input and output tokens."""
        if self.usage is not None:
            return self.usage
        cap = self.body.get("max_completion_tokens") or self.body.get("max_tokens")
        completion = cap if isinstance(cap, int) and cap > 0 else DEFAULT_COMPLETION_TOKENS
        return Usage(prompt_tokens(self.body), completion)


def chat_body(model: str, prompt: str = "hi", max_tokens: int | None = None) -> dict[str, Any]:
    """A chat-completions body whose estimate is `ceil(len(prompt) / 4)` input tokens plus `max_tokens`."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


@dataclass(frozen=True)
class SimOutcome:
    """What the gateway answered: 200 (served), 403 (access), 429 (a limit) or the provider's error."""

    status: int
    served_by: str | None = None  # the target that answered
    route_rule: str | None = None  # the routing rule (or virtual model) that chose the targets
    refused_by: str | None = None  # the limit rule that refused a 429
    refused_kind: str | None = None  # "rate_limit" | "budget"
    applied: tuple[AppliedRule, ...] = ()  # limit rules that admitted (or refused) it
    would_block: tuple[AppliedRule, ...] = ()  # audit-mode rules that would have refused it
    tokens: int = 0
    cost: float | None = None
    tries: tuple[tuple[str, int], ...] = ()
    message: str = ""

    @classmethod
    def refused(cls, refusal: Refusal, route_rule: str | None, applied: tuple[AppliedRule, ...]) -> SimOutcome:
        return cls(
            429,
            route_rule=route_rule,
            refused_by=refusal.rule_id,
            refused_kind=refusal.kind,
            applied=applied,
            message=refusal.message,
        )

    @property
    def admitted(self) -> bool:
        return self.status not in (403, 429)

    def describe(self) -> str:
        """One line: `200 via openai-main/gpt-4o (routing rule weighted-chat)`, `429 by rate-limit 'x'`."""
        if self.refused_by is not None:
            kind = (self.refused_kind or "limit").replace("_", "-")
            return f"{self.status} by {kind} '{self.refused_by}'"
        if self.status == 403:
            return "403 access denied"
        text = f"{self.status}"
        if self.served_by:
            text += f" via {self.served_by}"
        if self.route_rule:
            text += f" (routing rule {self.route_rule})"
        return text

    def rules(self) -> str:
        """The limit rules that applied, for messages: `rate-limit user-daily-limit, budget user-daily-budget`."""
        found = [f"{rule.kind.replace('_', '-')} {rule.rule_id}" for rule in self.applied]
        return ", ".join(found) or "no limit rule"
