"""Regions of traffic: what a V1 `when` matches, as V2 `in`/`not_in` filters, and their differences.

A V2 filter is a conjunction: per dimension (users, teams, virtual accounts, models, one metadata
key) a value must be `in` a list and not `not_in` another. A `Term` is such a conjunction; a
region is a list of disjoint terms. A V1 `when` is a conjunction too, but its subject list ORs
kinds (`["team:a", "user:b"]`), so it becomes one term per subject kind.

The migrator needs "what rule i decides in V1": i's region minus every earlier rule's (first match).
`subtract` computes that where V2 filters can say it, and answers None where they cannot (V2 has no
filter for "this metadata key is absent", or for "in team a and in team c" unless one list holds
the other): the caller then keeps the overlap and reports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from tfy_gateway.manifests.common import When

USERS, TEAMS, ACCOUNTS, MODELS = "users", "teams", "virtual_accounts", "models"
SUBJECT_DIMENSIONS = (USERS, TEAMS, ACCOUNTS)
MULTI_VALUED = frozenset({TEAMS})  # a caller has several teams: `in` means "one of them"
EVERYONE = "everyone"


def metadata_dimension(key: str) -> str:
    return f"metadata.{key}"


@dataclass(frozen=True)
class ValueSet:
    """`in` (None: any value) and `not_in` of one dimension."""

    allowed: frozenset[str] | None = None
    excluded: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return self.allowed is not None and not (self.allowed - self.excluded)

    @property
    def unconstrained(self) -> bool:
        return self.allowed is None and not self.excluded

    def meet(self, other: ValueSet, *, multi: bool) -> ValueSet | None:
        """Both sets at once; None when V2 has no single filter for it (two `in` lists of a
        several-valued dimension, neither inside the other)."""
        allowed: frozenset[str] | None
        if self.allowed is None or other.allowed is None:
            allowed = self.allowed if other.allowed is None else other.allowed
        elif not multi:
            allowed = self.allowed & other.allowed
        elif self.allowed <= other.allowed:
            allowed = self.allowed
        elif other.allowed <= self.allowed:
            allowed = other.allowed
        else:
            return None
        return ValueSet(allowed, self.excluded | other.excluded)

    def within(self, other: ValueSet, *, multi: bool) -> bool:
        """Every value (caller) this set admits, `other` admits (conservative: False when unsure).
        A several-valued caller admitted here holds a value of `allowed`, and maybe others."""
        if self.allowed is None:
            return other.allowed is None and other.excluded <= self.excluded
        admitted = self.allowed - self.excluded
        if other.allowed is not None and not admitted <= other.allowed:
            return False
        if multi:
            return other.excluded <= self.excluded
        return not (admitted & other.excluded)

    def disjoint(self, other: ValueSet, *, multi: bool) -> bool:
        """No value (caller) is admitted by both (conservative: False when unsure)."""
        mine = None if self.allowed is None else self.allowed - self.excluded
        theirs = None if other.allowed is None else other.allowed - other.excluded
        if mine is not None and mine <= other.excluded:
            return True
        if theirs is not None and theirs <= self.excluded:
            return True
        return not multi and mine is not None and theirs is not None and not (mine & theirs)


ANY = ValueSet()
Kind = str  # "user" | "virtualaccount" | "" (either)


@dataclass(frozen=True)
class Term:
    """One conjunction of V2 filters, plus what V2 filters cannot say and the caller must handle:
    `kind` (only users / only virtual accounts, from `team:everyone`) and `present` (metadata keys
    a request must carry, from V1's `metadata.<key>` in applies_per)."""

    sets: Mapping[str, ValueSet] = field(default_factory=lambda: MappingProxyType({}))
    kind: Kind = ""
    present: frozenset[str] = frozenset()

    def get(self, dimension: str) -> ValueSet:
        return self.sets.get(dimension, ANY)

    def with_set(self, dimension: str, values: ValueSet) -> Term | None:
        met = self.get(dimension).meet(values, multi=dimension in MULTI_VALUED)
        if met is None:
            return None
        return replace(self, sets=MappingProxyType({**self.sets, dimension: met}))

    @property
    def empty(self) -> bool:
        if any(values.empty for values in self.sets.values()):
            return True
        implied = self.implied_kind
        if self.kind and implied and self.kind != implied:
            return True
        return any(self.get(metadata_dimension(key)).empty for key in self.present)

    @property
    def implied_kind(self) -> Kind:
        """The caller kind the filters alone imply (a user filter with `in` admits users only)."""
        if self.get(USERS).allowed is not None or self.get(TEAMS).allowed is not None:
            return "user"
        if self.get(ACCOUNTS).allowed is not None:
            return "virtualaccount"
        return ""

    def dimensions(self) -> list[str]:
        return [dimension for dimension, values in self.sets.items() if not values.unconstrained]


# --- atoms: the conjuncts of a V1 `when` -------------------------------------------------------


@dataclass(frozen=True)
class Atom:
    """One conjunct of a V1 rule's match: subjects, models, one metadata pair, or a required key."""

    dimension: str  # "subjects", MODELS, "metadata.<key>", "present.<key>"
    values: frozenset[str]

    def positive(self) -> list[Term]:
        """Disjoint terms that together are this atom."""
        if self.dimension == "subjects":
            return _subject_pieces(self.values)
        if self.dimension.startswith("present."):
            return [Term(present=frozenset({self.dimension.removeprefix("present.")}))]
        return [Term(MappingProxyType({self.dimension: ValueSet(self.values)}))]

    def negative(self) -> Term | None:
        """The atom's complement as one term, or None when V2 filters cannot say it."""
        if self.dimension.startswith("present."):
            return None  # "the key is absent" has no V2 filter
        if self.dimension != "subjects":
            return Term(MappingProxyType({self.dimension: ValueSet(None, self.values)}))
        users, teams, accounts, everyone = _split_subjects(self.values)
        sets = {
            dimension: ValueSet(None, values)
            for dimension, values in ((USERS, users), (TEAMS, teams), (ACCOUNTS, accounts))
            if values
        }
        return Term(MappingProxyType(sets), kind="virtualaccount" if everyone else "")


def atoms(when: When, required_metadata: tuple[str, ...] = ()) -> list[Atom]:
    """The conjuncts of a V1 rule's match (`*` and empty lists match everything and add none)."""
    found: list[Atom] = []
    if when.subjects and "*" not in when.subjects:
        found.append(Atom("subjects", frozenset(when.subjects)))
    if when.models and "*" not in when.models:
        found.append(Atom(MODELS, frozenset(when.models)))
    for key, value in sorted((when.metadata or {}).items()):
        found.append(Atom(metadata_dimension(key), frozenset({value})))
    found += [Atom(f"present.{key}", frozenset()) for key in required_metadata]
    return found


def _split_subjects(subjects: frozenset[str]) -> tuple[frozenset[str], frozenset[str], frozenset[str], bool]:
    """(user emails, team names, virtual-account names, whether `team:everyone` is listed)."""
    users, teams, accounts = set(), set(), set()
    everyone = False
    for subject in subjects:
        kind, _, name = subject.partition(":")
        if kind == "user":
            users.add(name)
        elif kind == "team" and name == EVERYONE:
            everyone = True
        elif kind == "team":
            teams.add(name)
        elif kind == "virtualaccount":
            accounts.add(name)
    return frozenset(users), frozenset(teams), frozenset(accounts), everyone


def _subject_pieces(subjects: frozenset[str]) -> list[Term]:
    """`["user:a", "team:t", "virtualaccount:v"]` as disjoint terms: user a; other users in team t;
    (with team:everyone: every other user); virtual account v."""
    users, teams, accounts, everyone = _split_subjects(subjects)
    pieces: list[Term] = []
    if users:
        pieces.append(Term(MappingProxyType({USERS: ValueSet(users)})))
    not_users = {USERS: ValueSet(None, users)} if users else {}
    if teams:
        pieces.append(Term(MappingProxyType({**not_users, TEAMS: ValueSet(teams)})))
    if everyone:
        others = {**not_users, **({TEAMS: ValueSet(None, teams)} if teams else {})}
        pieces.append(Term(MappingProxyType(others), kind="user"))
    if accounts:
        pieces.append(Term(MappingProxyType({ACCOUNTS: ValueSet(accounts)})))
    return pieces


# --- algebra -----------------------------------------------------------------------------------


def meet(a: Term, b: Term) -> Term | None:
    """Both terms at once (possibly empty); None when V2 filters cannot say it."""
    out: Term | None = replace(a, kind=a.kind or b.kind, present=a.present | b.present)
    if a.kind and b.kind and a.kind != b.kind:
        return Term(MappingProxyType({USERS: ValueSet(frozenset())}))  # empty
    for dimension, values in b.sets.items():
        if out is None:
            return None
        out = out.with_set(dimension, values)
    return out


def within(a: Term, b: Term) -> bool:
    """Every request `a` admits, `b` admits (conservative)."""
    if b.kind and (a.kind or a.implied_kind) != b.kind:
        return False
    if not b.present <= a.present:
        return False
    return all(a.get(dimension).within(values, multi=dimension in MULTI_VALUED) for dimension, values in b.sets.items())


def disjoint(a: Term, b: Term) -> bool:
    """No request is admitted by both (conservative)."""
    kinds = {a.kind or a.implied_kind, b.kind or b.implied_kind} - {""}
    if len(kinds) == 2:
        return True
    dimensions = set(a.sets) | set(b.sets)
    return any(a.get(d).disjoint(b.get(d), multi=d in MULTI_VALUED) for d in dimensions)


def region(conjuncts: list[Atom]) -> list[Term] | None:
    """The disjoint terms of a conjunction of atoms; None when V2 filters cannot say it."""
    terms = [Term()]
    for atom in conjuncts:
        terms, failed = _product(terms, atom.positive())
        if failed:
            return None
    return [term for term in terms if not term.empty]


def subtract(terms: list[Term], conjuncts: list[Atom]) -> list[Term] | None:
    """`terms` minus the region of `conjuncts`, as disjoint terms; None when V2 filters cannot say it.

    t minus (c1 and c2 and ...) = (t and not c1) or (t and c1 and not c2) or ...; conjuncts `t`
    already implies are skipped, and a conjunct `t` cannot meet leaves `t` whole."""
    out: list[Term] = []
    for term in terms:
        pieces = _subtract_one(term, conjuncts)
        if pieces is None:
            return None
        out += pieces
    return out


def _subtract_one(term: Term, conjuncts: list[Atom]) -> list[Term] | None:
    relevant: list[Atom] = []
    for atom in conjuncts:
        positive = atom.positive()
        if all(disjoint(term, piece) for piece in positive):
            return [term]  # the other rule never matches inside this term
        if not any(within(term, piece) for piece in positive):
            relevant.append(atom)
    if not relevant:
        return []  # the other rule matches all of this term
    out: list[Term] = []
    prefix = [term]
    for atom in relevant:
        negative = atom.negative()
        if negative is None:
            return None
        for head in prefix:
            piece = meet(head, negative)
            if piece is None:
                return None
            if not piece.empty:
                out.append(piece)
        prefix, failed = _product(prefix, atom.positive())
        if failed:
            return None
    return out


def _product(terms: list[Term], pieces: list[Term]) -> tuple[list[Term], bool]:
    out: list[Term] = []
    for term in terms:
        for piece in pieces:
            met = meet(term, piece)
            if met is None:
                return [], True
            if not met.empty:
                out.append(met)
    return out, False


def differing(terms: list[Term]) -> Iterator[str]:
    """The dimensions (and "kind") in which disjoint terms of one region differ."""
    if len(terms) < 2:
        return
    dimensions = {d for term in terms for d in term.sets}
    for dimension in sorted(dimensions):
        if len({term.get(dimension) for term in terms}) > 1:
            yield dimension
    if len({term.kind for term in terms}) > 1:
        yield "kind"
