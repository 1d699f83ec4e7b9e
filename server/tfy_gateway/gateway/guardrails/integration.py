"""One compiled guardrail integration: what it is (`Spec`), what it is given (`GuardrailCall`), what it
answers (`Verdict`), and how it fails (`GuardrailUnavailable`).

Integrations are compiled at apply time (patterns compiled, secrets resolved) and are immutable.
`local` ones only compute (regex, PII, secrets, SQL, metadata): the stage runs them inline, before
the model is called. The others call a service over the data plane's transport, bounded by the
tenant's guardrail timeout.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tfy_gateway.gateway.errors import RemoteError
from tfy_gateway.gateway.guardrails.checks import Operation, Stage, Strategy
from tfy_gateway.gateway.providers.transport import Transport


class GuardrailUnavailable(RemoteError):
    """The guardrail gave no usable answer (timeout, unreachable, error status, bad body); the
    integration's `enforcing_strategy` decides whether that blocks."""


@dataclass(frozen=True, slots=True)
class Spec:
    """What every integration has, from its manifest."""

    ref: str  # <group>/<integration>
    kind: str  # tfy-pii, regex, custom, ...
    operation: Operation
    strategy: Strategy
    priority: int = 1


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str  # user:<email> | virtualaccount:<name>
    kind: str  # user | virtualaccount
    name: str  # the email or the virtual account's name
    id: str = ""


@dataclass(slots=True)
class GuardrailCall:
    """What one guardrail sees of one request.

    `body` is the request body (for input, as rewritten by the mutate guardrails before this one);
    `response` is the answer on the output stage. Never changed once made (a new body or response is
    a new call: `dataclasses.replace`), but not frozen, which made each call cost ~0.8 µs more
    (`object.__setattr__` per field).
    """

    stage: Stage
    body: Mapping[str, Any]
    caller: Caller
    metadata: Mapping[str, str]
    model: str
    transport: Transport
    timeout_s: float
    response: Mapping[str, Any] | None = None
    # The texts of `body` (input) or `response` (output) and their digests, made by the first scanning
    # guardrail that needs them and shared by the others that look at the same content (`replace`
    # starts a new one).
    texts_memo: list[list[tuple[str, bytes]]] = field(default_factory=list, init=False, repr=False, compare=False)


def context_of(call: GuardrailCall) -> dict[str, Any]:
    """The `context` of the custom-guardrail contract (also what OPA policies get): who and metadata."""
    caller = call.caller
    return {
        "user": {"subjectId": caller.id or caller.name, "subjectType": caller.kind, "subjectSlug": caller.name},
        "metadata": dict(call.metadata),
    }


@dataclass(frozen=True, slots=True)
class Verdict:
    """`violation`: why the content fails (None: it passes). `rewritten`: the new request body (input)
    or answer (output) of a mutate guardrail that changed it."""

    violation: str | None = None
    rewritten: dict[str, Any] | None = field(default=None, repr=False)


PASS = Verdict()


class LocalGuardrail(ABC):
    """Checking is pure computation: run inline, before the model call, with no timeout."""

    local = True
    skipped = False  # NotRun: reported as skipped (a class attribute: an ABC's isinstance costs ~1 µs a call)

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    @abstractmethod
    def check_now(self, call: GuardrailCall) -> Verdict:
        """The verdict on `call`."""

    async def check(self, call: GuardrailCall) -> Verdict:
        return self.check_now(call)


class RemoteGuardrail(ABC):
    """Checking asks a service; the stage bounds each call by the guardrail timeout."""

    local = False

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    @abstractmethod
    async def check(self, call: GuardrailCall) -> Verdict:
        """The verdict on `call`; raises GuardrailUnavailable when there is none."""


Guardrail = LocalGuardrail | RemoteGuardrail


class NotRun(LocalGuardrail):
    """A type this gateway does not run: reported as skipped on every request it would apply to. Here,
    not in registry.py, so that the stage can recognise one without loading every vendor's checks."""

    skipped = True

    def check_now(self, call: GuardrailCall) -> Verdict:
        raise AssertionError("the stage reports a NotRun guardrail as skipped without checking")
