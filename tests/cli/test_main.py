"""The command itself: a version check imports nothing heavy; one output flag spelling everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.gateway.conftest import run_cli
from tests.helpers import SUBPROCESS_TIMEOUT_S, code_under_test_env
from tfy_gateway import __version__
from tfy_gateway.cli.main import build_parser

PROBE = """
import contextlib, io, json, sys
from tfy_gateway.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main([sys.argv[1]])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"starlette", "mcp", "pydantic", "uvicorn", "aiohttp", "httpx"})
print(json.dumps({"code": code, "out": out.getvalue(), "heavy": heavy}))
"""


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_answers_without_importing_the_gateway_or_the_sdks(flag):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, flag],
        env={"PATH": "/usr/bin:/bin", **code_under_test_env()},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    result = json.loads(done.stdout)
    assert result == {"code": 0, "out": f"tfy-gateway {__version__}\n", "heavy": []}


def subcommand_options() -> dict[str, set[str]]:
    """Every (sub)subcommand's option strings, hidden ones included."""
    found: dict[str, set[str]] = {}

    def walk(parser, name: str) -> None:
        found[name] = {o for action in parser._actions for o in action.option_strings}
        for action in parser._actions:
            choices = getattr(action, "choices", None)
            for child, sub in choices.items() if isinstance(choices, dict) else ():
                walk(sub, f"{name} {child}".strip())

    walk(build_parser(), "")
    return found


def test_output_format_is_spelt_format_everywhere_and_json_is_a_hidden_alias():
    options = subcommand_options()
    with_output = {name for name, opts in options.items() if "--json" in opts or "--format" in opts}
    assert {"validate", "get", "smoke", "explain", "logs", "users list", "tokens list"} <= with_output
    assert all("--format" in options[name] for name in with_output)
    for name in with_output:
        assert not any(o in options[name] for o in ("-o", "--output")), name
    assert "--json" not in build_parser()._subparsers._group_actions[0].choices["logs"].format_help()


def test_the_json_alias_still_works(tmp_path):
    assert run_cli("users", "list", "--json", "--data-dir", str(tmp_path)).returncode == 1  # no database yet
    args = build_parser().parse_args(["logs", "--json"])
    assert args.format == "json"


COLLECTOR_PROBE = """
import contextlib, gc, io, json, sys
from tfy_gateway.cli.main import main
as_command = sys.argv[1] == "command"
sys.argv = ["tfy-gateway", "validate", sys.argv[2]]
with contextlib.redirect_stdout(io.StringIO()):
    code = main() if as_command else main(sys.argv[1:])
print(json.dumps({"code": code, "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}))
"""


@pytest.mark.parametrize("started_as", ["command", "caller"])
def test_a_command_start_freezes_what_its_imports_built_and_a_caller_keeps_its_collector(started_as, tmp_path):
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "name: l\ntype: tenant-rate-limit-config/model\nlimits: {requests_per_minute: 5}\n"
        "applies_to: {type: per-user}\nmode: enforce\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", COLLECTOR_PROBE, started_as, str(rule)],
        env={"PATH": "/usr/bin:/bin", **code_under_test_env()},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    result = json.loads(done.stdout)
    assert result["code"] == 0 and result["enabled"] is True
    if started_as == "command":
        assert result["frozen"] > 10_000  # the validator's modules, classes and functions
    else:
        assert result["frozen"] == 0
