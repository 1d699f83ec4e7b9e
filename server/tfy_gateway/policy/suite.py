"""Policy test suites (`tfy-gateway test SUITE.yaml`): the file format, validated on load.

A suite names the manifest files it tests (`config`, relative to the suite file), who calls
(`callers`), and cases. A case sends a request N times, `every` some simulated time apart, and
expects outcomes; a case with `steps` does that several times, with `advance` steps in between.
Every case starts from a fresh gateway state (no counters, no sticky pins) at `start`.
Format and examples: references/policy-tests.md.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.policy.clock import DEFAULT_START, parse_duration, parse_time

MAX_COUNT = 1_000_000


class SuiteError(ValueError):
    """The suite file cannot be read or does not follow the format (a usage error: exit 2)."""


class Caller(StrictModel):
    """Who sends a request: a user (with teams beyond those its config's team manifests give it) or
    a virtual account. `token_env`: the environment variable holding its token for `--against`."""

    user: str | None = None
    virtual_account: str | None = None
    teams: list[str] = Field(default_factory=list)
    admin: bool = False
    token_env: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Caller:
        if (self.user is None) == (self.virtual_account is None):
            raise ValueError("a caller is either `user: <email>` or `virtual_account: <name>`")
        if self.virtual_account is not None and self.teams:
            raise ValueError("a virtual account has no teams")
        return self

    @property
    def subject(self) -> str:
        return f"user:{self.user}" if self.user is not None else f"virtualaccount:{self.virtual_account}"


class Usage(StrictModel):
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class RequestSpec(StrictModel):
    """One request shape. Its token estimate is `prompt` characters / 4 (or `prompt_tokens`) plus
    `max_tokens` (256 when unset); the answer uses `usage`, else that estimate."""

    caller: str = Field(description="A name from `callers`, or a subject: user:<email>, virtualaccount:<name>.")
    model: str
    metadata: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    prompt: str | None = None
    prompt_tokens: int | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    usage: Usage | None = None
    endpoint: Literal["chat", "completions", "embeddings"] = "chat"


class Limited(StrictModel):
    after: int = Field(ge=0, description="Requests admitted before the first refusal.")
    by: str = Field(description="The rate-limit or budget rule (V1 id or V2 name) that refuses.")


class BudgetBlocked(StrictModel):
    after_usd: float = Field(ge=0, description="Spend of the admitted requests when the first is refused.")
    by: str


class Expect(StrictModel):
    """What every request of the step must show (each key is one check)."""

    status: int | None = None
    served_by: str | None = None
    rule: str | None = Field(default=None, description="The routing rule (or virtual model) of served requests.")
    shares: dict[str, float] | None = Field(default=None, description="Target -> percent of served requests.")
    tolerance: float = Field(default=5.0, ge=0, description="Percentage points allowed around each share.")
    limited: Limited | None = None
    budget_blocked: BudgetBlocked | None = None
    denied: bool | None = None
    applied: list[str] | None = Field(default=None, description="Limit rules every admitted request meets.")
    would_block: list[str] | None = Field(default=None, description="Audit-mode rules that would refuse it.")


class Step(StrictModel):
    send: RequestSpec | None = None
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    every: str | float = Field(default=0, description="Simulated time between requests: 10s, 15m, 1h, 1d.")
    failing: dict[str, int] = Field(default_factory=dict, description="Target -> the status its provider answers.")
    advance: str | float | None = Field(default=None, description="Move simulated time, sending nothing.")
    expect: Expect | None = None

    @model_validator(mode="after")
    def _send_or_advance(self) -> Step:
        if (self.send is None) == (self.advance is None):
            raise ValueError("a step either sends (`send:`) or moves time (`advance:`)")
        if self.advance is not None and self.expect is not None:
            raise ValueError("an `advance` step sends nothing to expect anything of")
        for value in (self.every, self.advance):
            if value is not None:
                parse_duration(value)
        limited = self.expect.limited if self.expect else None
        if limited is not None and self.count <= limited.after:
            raise ValueError(f"`limited.after: {limited.after}` needs `count` of at least {limited.after + 1}")
        return self

    @property
    def spacing_s(self) -> float:
        return parse_duration(self.every)


class Case(StrictModel):
    """One test: `request` + `count` + `every` + `expect`, or a list of `steps`."""

    name: str = Field(min_length=1)
    request: RequestSpec | None = None
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    every: str | float = 0
    failing: dict[str, int] = Field(default_factory=dict)
    expect: Expect | None = None
    steps: list[Step] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Case:
        if (self.request is None) == (self.steps is None):
            raise ValueError("a case has either `request` (with count, every, expect) or `steps`")
        if self.steps is not None and (self.expect is not None or self.count != 1 or self.every != 0):
            raise ValueError("with `steps`, put count, every and expect on each step")
        return self

    def all_steps(self) -> list[Step]:
        if self.steps is not None:
            return self.steps
        return [Step(send=self.request, count=self.count, every=self.every, failing=self.failing, expect=self.expect)]


class Suite(StrictModel):
    name: str = ""
    config: list[str] = Field(default_factory=list, description="Manifest files, relative to the suite file.")
    collaborators: list[str] = Field(
        default_factory=list,
        description="Subjects added to every provider account, as `serve --offline` adds team:everyone.",
    )
    start: str | float | datetime | None = Field(
        default=None, description="When simulated time starts (ISO 8601, UTC)."
    )
    seed: int = 0
    callers: dict[str, Caller] = Field(default_factory=dict)
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _callers_known(self) -> Suite:
        for case in self.cases:
            for step in case.all_steps():
                if step.send is not None and ":" not in step.send.caller and step.send.caller not in self.callers:
                    known = ", ".join(sorted(self.callers)) or "none"
                    raise ValueError(f"case '{case.name}': unknown caller '{step.send.caller}' (callers: {known})")
        return self

    @property
    def start_at(self) -> float:
        return DEFAULT_START if self.start is None else parse_time(self.start)

    def caller(self, name: str) -> Caller:
        if name in self.callers:
            return self.callers[name]
        kind, _, who = name.partition(":")
        return Caller(user=who) if kind == "user" else Caller(virtual_account=who)


def load_suite(path: str | Path) -> tuple[Suite, list[Path]]:
    """The suite and its config files (resolved against the suite's directory)."""
    path = Path(path)
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from None
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'suite'}: {error['msg']}" for error in exc.errors()
        )
        raise SuiteError(f"{path}: {problems}") from None
    return suite, [(path.parent / name).resolve() for name in suite.config]
