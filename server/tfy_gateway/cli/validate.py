"""`tfy-gateway validate FILE...`: findings for manifest files, offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from tfy_gateway.cli._output import add_format
from tfy_gateway.manifests import Finding, ManifestLoadError, has_errors, load_file, validate_documents
from tfy_gateway.manifests.loader import Document

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
V1_RATE_LIMITS = "gateway-rate-limiting-config"
MIGRATE_NOTE = (
    "{files}: gateway-rate-limiting-config (V1) is removed from the platform on 2026-12-15; "
    "`tfy-gateway migrate limits {files}` writes the V2 manifests and lists what would decide differently"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="validate manifest files (schema, routing weights, rule order, credentials...)",
        description="Validate gateway manifests offline. Files are checked together, so provider accounts "
        "in one file make their models known to routing rules in another. Exit 0: no errors (warnings "
        "allowed); 1: errors found; 2: usage error (e.g. a file that does not exist).",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML or JSON manifest files")
    add_format(parser)
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    documents: list[Document] = []
    findings: list[Finding] = []
    for name in args.files:
        if not Path(name).is_file():
            print(f"tfy-gateway validate: {name}: no such file", file=sys.stderr)
            return EXIT_USAGE
        try:
            documents += load_file(name)
        except ManifestLoadError as exc:
            findings.append(exc.finding)
    findings += validate_documents(documents)
    failed = has_errors(findings) or (args.strict and bool(findings))
    notes = _notes(documents)
    if args.format == "json":
        report = {"ok": not failed, "documents": len(documents), "findings": [f.to_dict() for f in findings]}
        if notes:
            report["notes"] = notes
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for found in findings:
            print(found.format())
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        errors = sum(1 for f in findings if f.severity == "error")
        warnings = len(findings) - errors
        verdict = "invalid" if failed else "valid"
        print(f"{len(documents)} document(s) in {len(args.files)} file(s): {verdict}, "
              f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)  # fmt: skip
    return EXIT_ERRORS if failed else EXIT_OK


def _notes(documents: list[Document]) -> list[str]:
    """Not findings (nothing is wrong yet): what the user should do next about deprecated types."""
    v1 = sorted({d.file for d in documents if isinstance(d.data, dict) and d.data.get("type") == V1_RATE_LIMITS})
    return [MIGRATE_NOTE.format(files=" ".join(v1))] if v1 else []
