"""Validation entry points shared by the CLI, the MCP server and the gateway's apply endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfy_gateway.manifests.catalog import Catalog
from tfy_gateway.manifests.findings import Finding, ManifestError, errors_only, finding
from tfy_gateway.manifests.gc_pause import gc_paused
from tfy_gateway.manifests.lint import lint, plaintext_secrets
from tfy_gateway.manifests.loader import Document
from tfy_gateway.manifests.partial import partial_lint
from tfy_gateway.manifests.registry import BUDGET_V2_KIND, AnyManifest, manifest_key
from tfy_gateway.manifests.schema_check import check_schema


def validate_manifest(manifest: Any, catalog: Catalog | None = None) -> list[Finding]:
    """Every finding for one raw manifest (a dict as written or as sent to PUT /apply).

    `catalog` lists the models targets may name; without one, targets are checked for form only.
    """
    return check_manifest(manifest, catalog)[1]


def check_manifest(manifest: Any, catalog: Catalog | None = None) -> tuple[AnyManifest | None, list[Finding]]:
    """`validate_manifest`, also returning the typed model when the schema holds (None otherwise), so a
    caller that keeps the model (the gateway's apply) does not validate a large manifest twice."""
    with gc_paused():
        model, findings = check_schema(manifest)
    if isinstance(manifest, dict) and not str(manifest.get("type", "")).startswith("gateway-"):
        findings += plaintext_secrets(manifest)  # gateway configs hold no credentials
    with gc_paused():
        if model is not None:
            findings += lint(model, catalog)
        elif findings:  # schema errors: still report the semantic findings of the parts that are valid
            findings += partial_lint(manifest, findings, lambda partial: lint(partial, catalog))
    return model, findings


def parse_manifest(manifest: dict[str, Any]) -> AnyManifest:
    """The typed model of a valid manifest; raises ManifestError listing every error otherwise."""
    model, findings = check_schema(manifest)
    errors = errors_only(findings)
    if model is None or errors:
        raise ManifestError(errors)
    return model


def validate_documents(documents: Sequence[Document], catalog: Catalog | None = None) -> list[Finding]:
    """Validate a run of documents together: provider accounts in the run join the catalog."""
    local = Catalog.from_manifests(doc.data for doc in documents)
    combined = local.merged(catalog) if (len(local) or local.guardrails or catalog is not None) else None
    findings: list[Finding] = []
    seen: dict[tuple[str, str], Document] = {}
    for doc in documents:
        found = validate_manifest(doc.data, combined)
        for path in doc.duplicate_keys:
            found.append(
                finding(
                    "error",
                    "duplicate-key",
                    f"key '{path[-1]}' appears twice in the same mapping; the later value would silently win",
                    path,
                )
            )
        if isinstance(doc.data, dict) and isinstance(doc.data.get("type"), str):
            key = manifest_key(doc.data)
            if key in seen:
                found.append(_duplicate(seen[key], doc, key))
            seen[key] = doc
        located = [_locate(f, doc) for f in found]
        findings += sorted(located, key=lambda f: (f.line or 0, f.column or 0))
    return findings


def _duplicate(earlier: Document, doc: Document, key: tuple[str, str]) -> Finding:
    """Two documents for one resource: the later replaces the earlier when applied in order."""
    where = f"document {earlier.index + 1} of {earlier.file}"
    before, after = earlier.data.get("type"), doc.data.get("type")
    if key[0] == BUDGET_V2_KIND and before != after:
        message = (
            f"this {after} has the name of the {before} in {where}: budget names are unique per tenant "
            "across tenant and team budgets, so applying both keeps only the later one"
        )
        return finding("error", "duplicate-budget-name", message, ("name",), hint="rename one of the budgets")
    return finding(
        "warning",
        "duplicate-resource",
        f"this document replaces {where}: same resource {key[0]}/{key[1]}",
        ("name",),
    )


def _locate(found: Finding, doc: Document) -> Finding:
    """Attach file, document number and the line/column of the offending key or value."""
    last = found.loc[-1] if found.loc else None
    on_key = found.code in ("unknown-field", "misplaced-field", "duplicate-key")
    position = doc.position(found.loc, key=on_key)
    if position is None and isinstance(last, str):
        position = doc.position(found.loc[:-1])
    line, column = position if position else (None, None)
    return found.located(file=doc.file, document=doc.index + 1, line=line, column=column)
