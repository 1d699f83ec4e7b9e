"""`PolicyConfig`: manifest files compiled the way the gateway compiles an applied snapshot.

Policy tests, replay and the migrator never apply anything: they read manifests from files, build
the same `ConfigSnapshot` the control plane would hold after applying them, and compile it with the
gateway's own compiler (routing, limits, catalog and prices, model access). Secrets are never read:
a simulated request never calls a provider, it only needs each model's price.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.access import PROVIDER_ACCOUNT_PREFIX
from tfy_gateway.gateway.accounting import PriceTable
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.config import CompiledConfig
from tfy_gateway.gateway.config.catalog import build_catalog
from tfy_gateway.gateway.identities import team_memberships
from tfy_gateway.gateway.limits import compile_policies
from tfy_gateway.gateway.providers import SecretResolver
from tfy_gateway.gateway.routing import compile_snapshot
from tfy_gateway.gateway.snapshot import build_snapshot
from tfy_gateway.gateway.store import ResourceRecord
from tfy_gateway.manifests import Finding, ManifestLoadError, has_errors, load_file, manifest_key, validate_documents
from tfy_gateway.manifests.loader import Document

EVERYONE = "everyone"
TENANT = "local"


class PolicyConfigError(Exception):
    """The manifest files do not load or validate; `findings` say where."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        errors = [f for f in findings if f.severity == "error"]
        super().__init__("the configuration has errors:\n" + "\n".join(f.format() for f in errors))
        self.findings = list(findings)


@dataclass(frozen=True)
class PolicyConfig:
    """One configuration version, compiled, and who is in which team (from `team` manifests)."""

    compiled: CompiledConfig
    manifests: tuple[Mapping[str, Any], ...]
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    findings: tuple[Finding, ...] = ()

    def principal(self, caller: str, teams: Iterable[str] = (), *, admin: bool = False) -> Principal:
        """The principal a token of `caller` (`user:<email>` or `virtualaccount:<name>`) resolves to:
        a user's teams from the config's `team` manifests plus `teams`, and `team:everyone`."""
        kind, _, name = caller.partition(":")
        if kind == "virtualaccount":
            return Principal("virtualaccount", name, None, (), False, (caller,), "policy-test", "")
        if kind != "user" or not name:
            raise ValueError(f"a caller is 'user:<email>' or 'virtualaccount:<name>', not '{caller}'")
        email = name.lower()
        known = [t for t in (*self.teams.get(email, ()), *teams) if t != EVERYONE]
        own = tuple(dict.fromkeys(known))
        subjects = (f"user:{email}", *(f"team:{t}" for t in own), f"team:{EVERYONE}")
        return Principal("user", email, email, (*own, EVERYONE), admin, subjects, "policy-test", "")


def compile_manifests(
    manifests: Iterable[Mapping[str, Any]], *, collaborators: Sequence[str] = (), version: int = 1
) -> PolicyConfig:
    """Compile manifests (later ones replace earlier ones of the same identity, as applying them in
    order would). `collaborators`: subjects added to every provider account, as `serve --offline`
    adds `team:everyone`, for configs whose accounts are managed elsewhere."""
    records: list[ResourceRecord] = []
    kept: list[Mapping[str, Any]] = []
    for position, manifest in enumerate(manifests):
        data = _with_collaborators(dict(manifest), collaborators)
        kind, name = manifest_key(data)
        records.append(ResourceRecord(f"policy-{position}", kind, name, str(data.get("type", "")), data, {}, "", ""))
        kept.append(data)
    snapshot = build_snapshot(records, version=version, tenant=TENANT)
    catalog = build_catalog(snapshot, _Placeholders(environ={}), PriceTable.bundled())
    compiled = CompiledConfig(snapshot, catalog, compile_snapshot(snapshot), compile_policies(snapshot))
    return PolicyConfig(compiled, tuple(kept), MappingProxyType(team_memberships(kept)))


def load_config(paths: Iterable[str | Path], *, collaborators: Sequence[str] = ()) -> PolicyConfig:
    """Load, validate and compile manifest files; raises `PolicyConfigError` on any error finding."""
    documents: list[Document] = []
    findings: list[Finding] = []
    for path in paths:
        try:
            documents += load_file(path)
        except ManifestLoadError as exc:
            findings.append(exc.finding)
    return _compiled(documents, findings, collaborators)


def validated(manifests: Iterable[Mapping[str, Any]], *, collaborators: Sequence[str] = ()) -> PolicyConfig:
    """`load_config` for manifests already in memory (live ones, proposed ones)."""
    documents = [Document(dict(m), index, "<manifests>") for index, m in enumerate(manifests)]
    return _compiled(documents, [], collaborators)


def _compiled(documents: list[Document], findings: list[Finding], collaborators: Sequence[str]) -> PolicyConfig:
    findings = [*findings, *validate_documents(documents)]
    if has_errors(findings):
        raise PolicyConfigError(findings)
    config = compile_manifests([d.data for d in documents if isinstance(d.data, dict)], collaborators=collaborators)
    return PolicyConfig(config.compiled, config.manifests, config.teams, tuple(findings))


class _Placeholders(SecretResolver):
    """Every secret reference resolves to a placeholder: a simulated request is priced, never sent,
    so no secret (not even the environment's) is read."""

    def resolve(self, value: str) -> str:
        return "policy-simulation" if value.startswith("tfy-secret://") else value


def _with_collaborators(manifest: dict[str, Any], subjects: Sequence[str]) -> dict[str, Any]:
    if not subjects or not str(manifest.get("type", "")).startswith(PROVIDER_ACCOUNT_PREFIX):
        return manifest
    manifest = copy.deepcopy(manifest)
    present = {c.get("subject") for c in manifest.get("collaborators") or () if isinstance(c, dict)}
    extra = [{"subject": s, "role_id": "provider-account-access"} for s in subjects if s not in present]
    manifest["collaborators"] = [*(manifest.get("collaborators") or ()), *extra]
    return manifest
