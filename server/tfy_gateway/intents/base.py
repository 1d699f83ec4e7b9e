"""What an intent check reports: questions to ask and defaults that will be used.

An assistant must never fill a gap in the user's request silently. Every field an intent leaves
open is either a `Question` (the meaning depends on it: ask, recommended option first) or an
`AppliedDefault` (a convention the user should still be told about).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Reason = Literal["missing", "ambiguous", "invalid"]


class Question(BaseModel):
    """One short clarifying question about one field, recommended option first."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="Path of the field in the intent, e.g. 'targets[1].weight'.")
    reason: Reason = Field(description="missing: not given; ambiguous: several readings; invalid: wrong value.")
    question: str = Field(description="The question to ask the user, recommended option first.")
    options: list[Any] = Field(description="Allowed values or example answers, recommended first.")
    recommended: Any = Field(default=None, description="The recommended answer (null when none fits).")


class AppliedDefault(BaseModel):
    """A field the intent left open that rendering fills with a documented default."""

    model_config = ConfigDict(frozen=True)

    field: str
    value: Any
    note: str = Field(description="What the default means, to tell the user.")


class IntentCheck(BaseModel):
    """Result of `check_intent`: complete means `render` will accept the intent as it is."""

    kind: str
    complete: bool
    questions: list[Question] = Field(default_factory=list)
    defaults: list[AppliedDefault] = Field(default_factory=list)
    next_question: str | None = Field(
        default=None, description="The single question to ask now (the first of `questions`)."
    )
    catalog_checked: bool = Field(
        default=False, description="Whether model names were checked against a catalog of known models."
    )
    routing_checked: bool = Field(
        default=False,
        description="Whether the live routing config was read (rule placement, recommendations, model aliases).",
    )


class IntentIncompleteError(ValueError):
    """`render` was given an intent that still has open questions."""

    def __init__(self, check: IntentCheck):
        self.check = check
        first = check.next_question or "the intent is incomplete"
        super().__init__(f"{check.kind} intent is not complete: {first}")


class Findings:
    """Collects questions and defaults while a checker walks an intent."""

    def __init__(self) -> None:
        self.questions: list[Question] = []
        self.defaults: list[AppliedDefault] = []

    def ask(self, field: str, reason: Reason, question: str, options: Sequence[Any], recommended: Any = None) -> None:
        self.questions.append(
            Question(field=field, reason=reason, question=question, options=list(options), recommended=recommended)
        )

    def default(self, field: str, value: Any, note: str) -> None:
        self.defaults.append(AppliedDefault(field=field, value=value, note=note))

    def result(self, kind: str, *, catalog_checked: bool, routing_checked: bool = False) -> IntentCheck:
        return IntentCheck(
            kind=kind,
            complete=not self.questions,
            questions=self.questions,
            defaults=self.defaults,
            next_question=self.questions[0].question if self.questions else None,
            catalog_checked=catalog_checked,
            routing_checked=routing_checked,
        )


SUBJECT_PATTERN = re.compile(r"^(\*|(user|team|virtualaccount):[^\s:][^\s]*)$")
SUBJECT_EXAMPLES = ["*", "team:<name>", "user:<email>", "virtualaccount:<name>"]
SECRET_PREFIX = "tfy-secret://"


def slug(*parts: str) -> str:
    """A rule id derived from the intent: lowercase letters, digits and hyphens."""
    text = "-".join(p for p in parts if p)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "rule"


def check_subjects(findings: Findings, field: str, subjects: list[str] | None, *, who: str) -> None:
    """Subjects are who a rule applies to; asking is better than assuming everyone."""
    if subjects is None:
        findings.ask(
            field,
            "missing",
            f"Who should {who} apply to: everyone ('*', recommended), a team ('team:<name>'), "
            "a user ('user:<email>') or a virtual account ('virtualaccount:<name>')?",
            SUBJECT_EXAMPLES,
            ["*"],
        )
        return
    if not subjects:
        findings.ask(field, "invalid", "Subjects cannot be empty: use '*' for everyone?", SUBJECT_EXAMPLES, ["*"])
        return
    for index, subject in enumerate(subjects):
        if not SUBJECT_PATTERN.match(subject):
            findings.ask(
                f"{field}[{index}]",
                "invalid",
                f"'{subject}' is not a subject. Did you mean 'team:{subject}' or 'user:{subject}'?",
                [f"team:{subject}", f"user:{subject}", "*"],
                f"team:{subject}",
            )


def check_models(
    findings: Findings,
    field: str,
    models: Iterable[str],
    catalog: Sequence[str] | None,
    *,
    allow_star: bool,
    aliases: Sequence[str] = (),
) -> None:
    """Model names must be names clients can send: catalog ids ('<account>/<integration>', virtual
    models included) or, where `aliases` are given, names a routing rule matches ('openai/gpt-4o').
    Bare or unknown names become questions whose recommendation comes from those names, never a guess."""
    for index, model in enumerate(models):
        path = f"{field}[{index}]"
        if allow_star and model == "*":
            continue
        if catalog is None:
            if "/" not in model and model not in aliases:
                findings.ask(
                    path,
                    "invalid",
                    f"Which provider account serves '{model}'? Model ids look like '<account>/<model>', "
                    f"e.g. 'openai-main/{model}'.",
                    [f"<account>/{model}"],
                )
            continue
        known = [*aliases, *(m for m in catalog if m not in aliases)]
        if model in known:
            continue
        # Aliases first: limits and budgets match the name clients send, which is the alias when one routes.
        candidates = [name for name in known if name.split("/", 1)[-1] == model]
        described = [f"'{c}'" + (" (routed alias clients send)" if c in aliases else "") for c in candidates]
        if len(candidates) == 1:
            findings.ask(
                path,
                "ambiguous",
                f"Do you mean {described[0]} (the only model named '{model}')?",
                candidates,
                candidates[0],
            )
        elif candidates:
            findings.ask(
                path,
                "ambiguous",
                f"Which '{model}' do you mean: {', '.join(described)}? The first is recommended.",
                candidates,
                candidates[0],
            )
        else:
            close = difflib.get_close_matches(model, known, n=5, cutoff=0.6)
            listed = (close + [m for m in sorted(known) if m not in close])[:10]
            more = "" if len(known) <= 10 else f" (and {len(known) - 10} more)"
            hint = f" Did you mean '{close[0]}'?" if close else ""
            findings.ask(
                path,
                "invalid",
                f"'{model}' is not a model clients can send.{hint} Known: {', '.join(listed) or 'none'}{more}. "
                "Which one?",
                listed,
                close[0] if close else None,
            )


def check_applies_per(
    findings: Findings,
    field: str,
    applies_per: list[str] | None,
    subjects: list[str] | None,
    *,
    what: str,
    allowed: Sequence[str],
) -> None:
    """A limit on a group is either shared by the group or counted per member: ask which."""
    if applies_per is None:
        groups = [s for s in subjects or [] if s == "*" or s.startswith("team:")]
        if not groups:
            findings.default(field, [], f"one {what} shared by the listed subjects")
            return
        everyone = "*" in groups
        label = "everyone" if everyone else groups[0]
        shared = f"one {what} shared by {label}"
        per_user = f"a separate {what} for each user"
        first, second = (per_user, shared) if everyone else (shared, per_user)
        options: list[list[str]] = [["user"], []] if everyone else [[], ["user"]]
        findings.ask(
            field,
            "ambiguous",
            f"Should this be {first} (recommended) or {second}?",
            [*options, ["virtualaccount"], ["model"], ["metadata.<key>"]],
            options[0],
        )
        return
    if len(applies_per) > 2:
        findings.ask(field, "invalid", f"At most 2 values are allowed; which two of {applies_per}?", applies_per)
    for index, value in enumerate(applies_per):
        if value not in allowed and not (value.startswith("metadata.") and len(value) > len("metadata.")):
            findings.ask(
                f"{field}[{index}]",
                "invalid",
                f"'{value}' cannot split a {what}. Use one of {', '.join(allowed)} or 'metadata.<key>'?",
                [*allowed, "metadata.<key>"],
                allowed[0],
            )
