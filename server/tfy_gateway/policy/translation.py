"""What the migrator made of one V1 rule: the V2 manifests, and every way they differ from V1.

A `Note` is one difference V2 cannot avoid (or that the chosen strategy accepts), with what was
done instead: the closest choice. The equivalence report refers to these when it explains a
request whose outcome changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RuleKind = Literal["rate_limit", "budget"]

NoteCode = Literal[
    "overlap",  # V2 also checks this rule for requests an earlier V1 rule decided
    "excluded",  # V2 leaves out requests an earlier rule decided; V1 counted them here too
    "split-counter",  # one V1 counter became several V2 counters
    "shadowed",  # the rule never decides in V1: migrated in audit mode
    "twin",  # a second V2 limit counts the callers of the other kind (user vs virtual account)
    "widened",  # a V1 condition V2 cannot filter on was dropped: the V2 rule matches more
    "dimension",  # two applies_per entries: V2 counts per one
    "no-team-counter",  # per-team without a team (V1: own counter; V2: not counted)
    "team-budgets",  # budget per team -> one team budget per team
    "window",  # a calendar period became a sliding window (token budgets)
    "no-equivalent",  # nothing in V2 counts this: closest choice emitted in audit mode
]


@dataclass(frozen=True)
class Note:
    code: NoteCode
    message: str
    exact: bool = False  # True: informational, behaviour is unchanged

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "exact": self.exact}


@dataclass
class Translation:
    """One V1 rule and the V2 manifests that replace it (`names`), in the V1 rule's order."""

    kind: RuleKind
    rule_id: str
    position: int  # index of the rule in its V1 config
    manifests: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [str(m["name"]) for m in self.manifests]

    @property
    def exact(self) -> bool:
        return all(note.exact for note in self.notes)

    def note(self, code: NoteCode, message: str, *, exact: bool = False) -> None:
        self.notes.append(Note(code, message, exact))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "v1_rule": self.rule_id,
            "v2_names": self.names,
            "exact": self.exact,
            "notes": [note.to_dict() for note in self.notes],
        }
