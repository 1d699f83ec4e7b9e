"""`tfy-gateway schema`: JSON Schema of a manifest type, or the Markdown reference."""

from __future__ import annotations

import argparse
import sys

import orjson

from tfy_gateway.manifests import MANIFEST_TYPES, json_schema
from tfy_gateway.manifests.schema import markdown_reference


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of a manifest type, or the Markdown reference",
        description="Print the JSON Schema of TYPE, all types (no TYPE), or with --markdown the "
        "reference page committed as references/manifest-schema.md.",
    )
    parser.add_argument("type", nargs="?", metavar="TYPE", help="manifest type, e.g. gateway-budget-config")
    parser.add_argument("--markdown", action="store_true", help="print the Markdown reference instead")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(markdown_reference())
        return 0
    if args.type is None:
        schemas = {t: json_schema(t) for t in MANIFEST_TYPES}
        sys.stdout.write(orjson.dumps(schemas, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    try:
        schema = json_schema(args.type)
    except KeyError:
        print(
            f"tfy-gateway schema: unknown type '{args.type}'; known: {', '.join(MANIFEST_TYPES)}",
            file=sys.stderr,
        )
        return 2
    sys.stdout.write(orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0
