"""What the control-plane commands (`apply`, `delete`, `get`) share: env settings and file loading.

Private to the CLI (the leading underscore keeps it out of subcommand discovery).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from tfy_gateway.manifests import Document, Finding, ManifestLoadError, load_file
from tfy_gateway.platform import (
    AuthenticationError,
    ConfigurationError,
    ControlPlaneSettings,
    NotFoundError,
    PermissionDeniedError,
    UnreachableError,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def key_value(text: str) -> tuple[str, str]:
    """argparse `type=` for KEY=VALUE options; a malformed one is a usage error (exit 2)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r} (e.g. env=dev)")
    return key.strip(), value


def settings_from_env(err: TextIO | None = None) -> ControlPlaneSettings | None:
    """Settings from the environment, or None after printing which variables to set."""
    err = err or sys.stderr
    try:
        settings = ControlPlaneSettings.from_env()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=err)
        return None
    for warning in settings.warnings:
        print(f"warning: {warning}", file=err)
    return settings


def load_documents(paths: Sequence[str], err: TextIO | None = None) -> list[Document] | None:
    """Every document of every file, or None after printing the load errors (all files are tried)."""
    err = err or sys.stderr
    documents: list[Document] = []
    failed = False
    for path in paths:
        try:
            documents.extend(load_file(path))
        except ManifestLoadError as exc:
            print(exc.finding.format(), file=err)
            failed = True
    if not failed and not documents:
        print(f"error: no manifests in {', '.join(paths)}", file=err)
        return None
    return None if failed else documents


def print_findings(findings: Iterable[Finding], err: TextIO | None = None) -> None:
    err = err or sys.stderr
    for finding in findings:
        print(finding.format(), file=err)


def identity(manifest: dict[str, Any]) -> tuple[str, str]:
    """(name as the tfy CLI prints it, type): the name is omitted from messages when absent."""
    name = manifest.get("name")
    return (f" {name}" if name else ""), str(manifest.get("type"))


def stops_the_batch(exc: Exception) -> bool:
    """Errors about the connection itself (URL, key, reachability): every next call would fail too."""
    if isinstance(exc, PermissionDeniedError):
        return False
    return isinstance(exc, (AuthenticationError, NotFoundError, UnreachableError))


def sentence(exc: Exception) -> str:
    """The error without its final period: the CLI's line format adds one."""
    return str(exc).rstrip(".")
