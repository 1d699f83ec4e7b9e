"""`tfy-gateway delete`: delete the resources that manifest files describe, like `tfy delete`.

Only `type` (and `name`) identify a resource, so the rest of a manifest is not validated: a resource
written under older rules can still be deleted. Documents go in reverse apply order, so a config that
routes to a provider account is removed before the account.
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
    sentence,
    settings_from_env,
    stops_the_batch,
)
from tfy_gateway.manifests import Document
from tfy_gateway.platform import (
    ControlPlaneClient,
    ControlPlaneError,
    ControlPlaneSettings,
    sort_for_delete,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "delete",
        help="delete the resources described by manifest files from the control plane",
        description=(
            "Delete each resource (identified by its type and name) described in the files from the "
            "control plane named by TFY_BASE_URL (or TFY_HOST, TFY_API_HOST) with TFY_API_KEY."
        ),
    )
    parser.add_argument(
        "-f",
        "--file",
        dest="files",
        action="append",
        required=True,
        metavar="FILE",
        help="a YAML or JSON manifest file (repeatable)",
    )
    parser.set_defaults(handler=run)


def _bad_documents(documents: list[Document]) -> list[str]:
    problems = []
    for doc in documents:
        if not isinstance(doc.data, dict) or not isinstance(doc.data.get("type"), str):
            got = type(doc.data).__name__ if not isinstance(doc.data, dict) else "no string `type`"
            problems.append(f"{doc.file}: document {doc.index + 1}: a manifest must be a mapping with a `type` ({got})")
    return problems


def run(args: argparse.Namespace) -> int:
    documents = load_documents(args.files)
    if documents is None:
        return EXIT_FAILURE
    problems = _bad_documents(documents)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return EXIT_FAILURE
    settings = settings_from_env()
    if settings is None:
        return EXIT_USAGE
    if not anyio.run(_delete_all, settings, documents):
        print("Failed to delete one or more resource manifests.", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


async def _delete_all(settings: ControlPlaneSettings, documents: list[Document]) -> bool:
    all_ok = True
    async with ControlPlaneClient.from_settings(settings) as client:
        for doc in sort_for_delete(documents, lambda d: d.data):
            name, type_ = identity(doc.data)
            try:
                await client.delete(doc.data)
            except ControlPlaneError as exc:
                all_ok = False
                failure = f"\u2718 Failed to delete resource manifest{name} of type {type_}. "
                print(f"{failure}Error: {sentence(exc)}.")
                if stops_the_batch(exc):
                    print("Stopped: the remaining documents were not sent.", file=sys.stderr)
                    break
                continue
            print(f"\u2714 Successfully deleted resource manifest{name} of type {type_}.")
    return all_ok
