"""`tfy-gateway apply`: validate manifests locally, then apply them like `tfy apply` does.

Same order (provider accounts before the configs that use them), same request bodies, same output
lines and the same client-side diff as the `tfy` CLI, so a dry run here predicts the platform's.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    identity,
    load_documents,
    print_findings,
    sentence,
    settings_from_env,
    stops_the_batch,
)
from tfy_gateway.manifests import Catalog, Document, has_errors, validate_documents
from tfy_gateway.platform import (
    BatchAccounts,
    ControlPlaneClient,
    ControlPlaneError,
    ControlPlaneSettings,
    ValidationFailed,
    manifest_label,
    sort_for_apply,
)

CHECK, CROSS, SKIP = "\u2714", "\u2718", "\u26a0"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="validate manifests, then apply them to the control plane (TFY_BASE_URL, TFY_API_KEY)",
        description=(
            "Validate the manifests first (against the models of the files and of the live provider accounts, as "
            "the platform does; errors stop before anything is applied), then apply each document in the tfy "
            "CLI's order to the control plane named by TFY_BASE_URL (or TFY_HOST, TFY_API_HOST) with TFY_API_KEY. "
            "Use --dry-run --show-diff to preview the change."
        ),
    )
    parser.add_argument(
        "-f",
        "--file",
        dest="files",
        action="extend",
        nargs="+",
        required=True,
        metavar="FILE",
        help="YAML or JSON manifest files: several after one -f (as a shell glob gives them: -f examples/*.yaml), "
        "or -f repeated; multi-document files are fine",
    )
    parser.add_argument("--dry-run", action="store_true", help="validate on the server; change nothing")
    parser.add_argument(
        "--show-diff",
        action="store_true",
        help="with --dry-run: print the unified diff against what is applied now (a new resource: all of it)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.show_diff and not args.dry_run:
        print("error: --show-diff requires --dry-run", file=sys.stderr)
        return EXIT_USAGE
    documents = load_documents(args.files)
    if documents is None:
        return EXIT_FAILURE
    findings = validate_documents(documents, _live_catalog())
    print_findings(findings)
    if has_errors(findings):
        count = sum(1 for f in findings if f.severity == "error")
        print(f"{count} error(s) found: nothing was sent to the control plane", file=sys.stderr)
        return EXIT_FAILURE
    settings = settings_from_env()
    if settings is None:
        return EXIT_USAGE
    shown = {finding.message for finding in findings}
    ok = anyio.run(_apply_all, settings, documents, args.dry_run, args.show_diff, shown)
    if not ok:
        print("Failed to apply one or more resource manifests.", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _live_catalog() -> Catalog | None:
    """The models of the live provider accounts, which the files' accounts replace by name (None when no
    control plane is configured or it does not answer: applying then says why)."""
    try:
        settings = ControlPlaneSettings.from_env()
    except ControlPlaneError:
        return None

    async def read() -> Catalog:
        async with ControlPlaneClient.from_settings(settings) as client:
            return Catalog.from_manifests(await client.list_provider_accounts())

    try:
        return anyio.run(read)
    except ControlPlaneError:
        return None


async def _apply_all(
    settings: ControlPlaneSettings,
    documents: list[Document],
    dry_run: bool,
    show_diff: bool,
    shown: set[str],
) -> bool:
    """Apply in order; print the CLI's lines. Server warnings already shown locally are not repeated."""
    manifests = [doc.data for doc in sort_for_apply(documents, lambda doc: doc.data)]
    accounts = BatchAccounts(manifests)
    prefix = "[Dry Run] " if dry_run else ""
    suffix = " (No changes were applied)" if dry_run else ""
    all_ok = True
    async with ControlPlaneClient.from_settings(settings) as client:
        for manifest in manifests:
            name, type_ = identity(manifest)
            created = accounts.created_by_this_apply(manifest) if dry_run else []
            if created:
                print(
                    f"{SKIP} {prefix}Skipped manifest{name} of type {type_} because it has dependencies. "
                    f"(it uses {', '.join(created)}, created by this apply)"
                )
                continue
            try:
                outcome = await client.apply(manifest, dry_run=dry_run)
            except ControlPlaneError as exc:
                all_ok = False
                failure = f"{CROSS} {prefix}Failed to apply manifest{name} of type {type_}. "
                print(f"{failure}Error: {sentence(exc)}.{suffix}")
                if isinstance(exc, ValidationFailed):
                    _print_server_findings(name.strip() or type_, exc.findings, shown | {exc.message})
                if stops_the_batch(exc):
                    # The next documents would fail the same way: stop here.
                    print("Stopped: the remaining documents were not sent.", file=sys.stderr)
                    break
                continue
            _print_server_findings(outcome.name, outcome.warnings, shown)
            accounts.record(manifest, outcome.existing)
            if dry_run and show_diff:
                # The tfy CLI prints nothing for a create; here a create shows the whole manifest as added lines.
                label = manifest_label(manifest)
                if outcome.diff:
                    print(f"Diff for {label}{' (new resource)' if outcome.existing is None else ''}")
                    print(outcome.diff, end="" if outcome.diff.endswith("\n") else "\n")
                else:
                    print(f"No changes detected for {label}")
            print(f"{CHECK} {prefix}Successfully configured manifest{name} of type {type_}.{suffix}")
    return all_ok


def _print_server_findings(name: str, findings: list[dict[str, Any]], shown: set[str]) -> None:
    """Every finding the control plane sent, of any severity, unless its message was printed already."""
    for found in findings:
        message = str(found.get("message"))
        if message in shown or any(message in earlier for earlier in shown):
            continue
        where = f" ({found['path']})" if found.get("path") else ""
        severity = "error" if found.get("severity") == "error" else "warning"
        print(f"{SKIP} {name}: {severity}: {message}{where}", file=sys.stderr)
