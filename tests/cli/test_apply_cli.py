"""`tfy-gateway apply/delete/get`: in-process for the offline paths, as a subprocess against the gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLES, SUBPROCESS_TIMEOUT_S, GatewayProcess, free_port
from tfy_gateway.cli.main import main

ROUTING = EXAMPLES / "routing-weighted.yaml"
ACCOUNTS = EXAMPLES / "provider-accounts.yaml"
ENV_NAMES = ("TFY_BASE_URL", "TFY_HOST", "TFY_API_HOST", "TFY_API_KEY")


def tfy_gateway(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    return subprocess.run(
        [sys.executable, "-m", "tfy_gateway", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )


@pytest.fixture
def unreachable_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """Env naming a loopback port nothing listens on: any network call would say so."""
    url = f"http://127.0.0.1:{free_port()}"
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFY_BASE_URL", url)
    monkeypatch.setenv("TFY_API_KEY", "tfy_cli_test_key_0000000000")
    return url


def test_show_diff_requires_dry_run(unreachable_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply", "-f", str(ROUTING), "--show-diff"]) == 2
    assert "--show-diff requires --dry-run" in capsys.readouterr().err


def test_local_errors_stop_before_any_network_call(
    unreachable_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ROUTING.read_text().replace("weight: 30", "weight: 20"))
    assert main(["apply", "-f", str(bad), "--dry-run"]) == 1
    captured = capsys.readouterr()
    first = captured.err.splitlines()[0]
    assert first.startswith(f"{bad}:") and ": error: " in first
    assert "nothing was sent to the control plane" in captured.err
    assert "could not reach" not in captured.out + captured.err
    assert captured.out == ""


def test_broken_yaml_is_located(unreachable_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ntype: [unclosed\n")
    assert main(["apply", "-f", str(broken)]) == 1
    assert capsys.readouterr().err.startswith(f"{broken}:")


def test_missing_env_is_a_usage_error_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for argv in (["apply", "-f", str(ROUTING)], ["delete", "-f", str(ROUTING)], ["get", "models"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "TFY_BASE_URL (or TFY_HOST, TFY_API_HOST) and TFY_API_KEY" in err


def test_get_unknown_type_suggests(unreachable_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "gateway-load-balancing-confg"]) == 2
    assert "did you mean 'gateway-load-balancing-config'" in capsys.readouterr().err


def test_connection_refused(unreachable_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply", "-f", str(ACCOUNTS), "-f", str(ROUTING), "--dry-run"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1  # the first failure stops the batch
    assert lines[0].startswith("\u2718 [Dry Run] Failed to apply manifest openai-main of type provider-account/openai.")
    assert f"could not reach the control plane at {unreachable_env}: is the gateway running" in lines[0]
    assert "Failed to apply one or more resource manifests." in captured.err
    assert main(["get", "models"]) == 1
    assert "could not reach the control plane" in capsys.readouterr().err


def test_apply_dry_run_diff_get_delete_against_the_gateway(gateway: GatewayProcess, tmp_path: Path) -> None:
    env = gateway.env
    first = tfy_gateway("apply", "-f", str(ACCOUNTS), "-f", str(ROUTING), "--dry-run", "--show-diff", env=env)
    assert first.returncode == 0, first.stderr
    assert (
        "\u2714 [Dry Run] Successfully configured manifest openai-main of type provider-account/openai. "
        "(No changes were applied)"
    ) in first.stdout.splitlines()
    # a create shows the whole manifest as added lines (the tfy CLI would show nothing)
    out = first.stdout.splitlines()
    assert out[:4] == [
        "Diff for openai-main (provider-account/openai) (new resource)",
        "--- /dev/null",
        "+++ new/openai-main (provider-account/openai)",
        out[3],
    ]
    assert out[3].startswith("@@ -0,0 +1,") and "+name: openai-main" in out and "+type: provider-account/openai" in out
    # the routing config uses models this same apply creates: skipped, as the tfy CLI does
    assert (
        "\u26a0 [Dry Run] Skipped manifest chat-routing of type gateway-load-balancing-config "
        "because it has dependencies."
    ) in first.stdout

    # routing listed first on the command line: applied after the accounts anyway (the CLI's type order)
    real = tfy_gateway("apply", "-f", str(ROUTING), "-f", str(ACCOUNTS), env=env)
    assert real.returncode == 0, real.stderr
    lines = real.stdout.splitlines()
    assert lines[-1] == "\u2714 Successfully configured manifest chat-routing of type gateway-load-balancing-config."
    assert len(lines) == 4

    same = tfy_gateway("apply", "-f", str(ROUTING), "--dry-run", "--show-diff", env=env)
    assert same.returncode == 0
    assert same.stdout.splitlines()[0] == "No changes detected for chat-routing (gateway-load-balancing-config)"

    changed = tmp_path / "routing.yaml"
    changed.write_text(ROUTING.read_text().replace("weight: 70", "weight: 80").replace("weight: 30", "weight: 20"))
    diff = tfy_gateway("apply", "-f", str(changed), "--dry-run", "--show-diff", env=env)
    assert diff.returncode == 0, diff.stderr
    out = diff.stdout.splitlines()
    assert out[:3] == [
        "Diff for chat-routing (gateway-load-balancing-config)",
        "--- existing/chat-routing (gateway-load-balancing-config)",
        "+++ new/chat-routing (gateway-load-balancing-config)",
    ]
    assert "-    weight: 70" in out and "+    weight: 80" in out
    assert out[-1].endswith("(No changes were applied)")

    got = tfy_gateway("get", "gateway-load-balancing-config", env=env)
    assert got.returncode == 0 and "weight: 70" in got.stdout  # the dry run changed nothing
    as_json = tfy_gateway("get", "models", "--format", "json", env=env)
    assert as_json.returncode == 0 and '"openai-main/gpt-4o"' in as_json.stdout

    deleted = tfy_gateway("delete", "-f", str(ROUTING), env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == (
        "\u2714 Successfully deleted resource manifest chat-routing of type gateway-load-balancing-config."
    )
    gone = tfy_gateway("get", "gateway-load-balancing-config", env=env)
    assert gone.returncode == 1 and "no gateway-load-balancing-config is applied" in gone.stderr
    again = tfy_gateway("delete", "-f", str(ROUTING), env=env)
    assert again.returncode == 1 and "nothing was deleted" in again.stdout


def test_gateway_errors_through_the_cli(gateway: GatewayProcess, tmp_path: Path) -> None:
    bad_key = {**gateway.env, "TFY_API_KEY": "tfy_wrong_key_for_this_gateway"}
    denied = tfy_gateway("apply", "-f", str(ACCOUNTS), "--dry-run", env=bad_key)
    assert denied.returncode == 1
    assert f"the control plane at {gateway.base_url} rejected TFY_API_KEY (401)" in denied.stdout
    assert "tfy_wrong_key_for_this_gateway" not in denied.stdout + denied.stderr
    assert len(denied.stdout.splitlines()) == 1  # stopped after the first document

    with_path = {**gateway.env, "TFY_BASE_URL": gateway.base_url + "/tfy"}
    wrong = tfy_gateway("get", "gateway-load-balancing-config", env=with_path)
    assert wrong.returncode == 1
    assert "has a path ('/tfy')" in wrong.stderr
    assert "is TFY_BASE_URL the bare origin of the control plane (no path)?" in wrong.stderr

    # an unknown target is found before anything is sent: the live catalog is read for validation
    assert tfy_gateway("apply", "-f", str(ACCOUNTS), env=gateway.env).returncode == 0
    unknown = tmp_path / "unknown-target.yaml"
    unknown.write_text(ROUTING.read_text().replace("azure-backup/gpt-4o", "nowhere/gpt-4o"))
    refused = tfy_gateway("apply", "-f", str(unknown), "--dry-run", env=gateway.env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"{unknown}:" in refused.stderr and "target 'nowhere/gpt-4o' is not a known model" in refused.stderr
    assert "nothing was sent to the control plane" in refused.stderr


def test_several_files_after_one_flag_as_a_shell_glob_gives_them(gateway: GatewayProcess) -> None:
    files = sorted(str(path) for path in EXAMPLES.glob("*.yaml"))
    dry = tfy_gateway("apply", "-f", *files, "--dry-run", env=gateway.env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    mixed = tfy_gateway(
        "apply", "-f", str(ACCOUNTS), str(EXAMPLES / "self-hosted.yaml"), "-f", str(ROUTING), env=gateway.env
    )
    assert mixed.returncode == 0, mixed.stdout + mixed.stderr
    assert "Successfully configured manifest nvidia-external" in mixed.stdout
    assert "Successfully configured manifest chat-routing" in mixed.stdout


def test_a_mixed_apply_validates_against_the_live_catalog_merged_with_the_files(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    """A file with a provider account does not hide the live ones (before: "target 'openai-main/gpt-4o'
    is not a known model"), and a file's account replaces its live namesake whole, as applying it would."""
    assert tfy_gateway("apply", "-f", str(ACCOUNTS), env=gateway.env).returncode == 0
    mixed = tfy_gateway("apply", "-f", str(EXAMPLES / "self-hosted.yaml"), "-f", str(ROUTING), env=gateway.env)
    assert mixed.returncode == 0, mixed.stdout + mixed.stderr
    assert "Successfully configured manifest chat-routing" in mixed.stdout
    shrunk = tmp_path / "azure-without-gpt-4o.yaml"
    azure = next(doc for doc in yaml.safe_load_all(ACCOUNTS.read_text()) if doc["name"] == "azure-backup")
    azure["integrations"][0]["name"] = "gpt-4o-renamed"
    shrunk.write_text(yaml.safe_dump(azure))
    refused = tfy_gateway("apply", "-f", str(shrunk), "-f", str(ROUTING), "--dry-run", env=gateway.env)
    assert refused.returncode == 1
    assert "target 'azure-backup/gpt-4o' is not a known model" in refused.stderr


def test_get_lists_every_stored_type_as_manifests_to_reapply(gateway: GatewayProcess, tmp_path: Path) -> None:
    """Before: "unknown TYPE 'virtual-account'"."""
    stored = tmp_path / "stored.yaml"
    stored.write_text(
        yaml.safe_dump_all(
            [{"name": "ci-bot", "type": "virtual-account"}, {"name": "ml", "type": "team", "members": []}]
        )
    )
    assert tfy_gateway("apply", "-f", str(ACCOUNTS), str(stored), env=gateway.env).returncode == 0
    for kind, names in (
        ("virtual-account", ["ci-bot"]),
        ("virtual-accounts", ["ci-bot"]),
        ("team", ["ml"]),
        ("provider-account", ["openai-main", "azure-backup", "anthropic-main"]),
        ("provider-account/openai", ["openai-main"]),
    ):
        got = tfy_gateway("get", kind, env=gateway.env)
        assert got.returncode == 0, got.stderr
        documents = [doc for doc in yaml.safe_load_all(got.stdout) if doc]
        assert [doc["name"] for doc in documents] == names and all("type" in doc for doc in documents)
    again = tfy_gateway("apply", "-f", str(ACCOUNTS), "--dry-run", env=gateway.env)
    assert again.returncode == 0
    none = tfy_gateway("get", "provider-account/groq", env=gateway.env)
    assert none.returncode == 1 and "no provider-account/groq is applied" in none.stderr
