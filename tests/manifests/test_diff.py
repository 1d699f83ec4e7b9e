"""compute_diff must print what `tfy apply --dry-run --show-diff` prints, line for line; a create (where
the CLI prints nothing) shows the whole manifest as added lines.

The peer is the installed truefoundry CLI itself: its diff function and its manifest parsing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from truefoundry.deploy.lib.diff_utils import generate_manifest_diff
from truefoundry.deploy.lib.model.entity import ManifestLike

from tfy_gateway.manifests.diff import compute_diff, creation_diff, manifest_label, plan_diff, strip_none_fields

ROUTING: dict[str, Any] = {
    "name": "chat-routing",
    "type": "gateway-load-balancing-config",
    "rules": [
        {
            "id": "weighted-chat",
            "type": "weight-based-routing",
            "when": {"subjects": ["*"], "models": ["openai/gpt-4o"]},
            "load_balance_targets": [
                {"target": "openai-main/gpt-4o", "weight": 70},
                {"target": "azure-backup/gpt-4o", "weight": 30},
            ],
        }
    ],
}

ACCOUNT: dict[str, Any] = {
    "name": "openai-main",
    "type": "provider-account/openai",
    "auth_data": {"type": "api-key", "api_key": "tfy-secret://t:g:k"},
    "integrations": [
        {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]},
        {"type": "integration/model/openai", "name": "a-mini", "model_id": "a", "model_types": ["chat"]},
    ],
}


def cli_diff(existing: dict[str, Any], new: dict[str, Any]) -> str:
    """What truefoundry 0.17.5 prints, following deploy/lib/dao/apply.py::_apply_manifest."""
    parsed = ManifestLike.parse_obj(new)
    label = f"{parsed.name} ({parsed.type})" if parsed.name else f"manifest ({parsed.type})"
    sent = parsed.dict(exclude_unset=True, exclude_none=True)
    return generate_manifest_diff(existing, sent, manifest_name=label) or ""


def _changed_weight(manifest: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(manifest)
    new["rules"][0]["load_balance_targets"][0]["weight"] = 80
    new["rules"][0]["load_balance_targets"][1]["weight"] = 20
    return new


def _reordered_integrations(manifest: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(manifest)
    new["integrations"].reverse()
    return new


def _account_with_new_model(manifest: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(manifest)
    new["integrations"].insert(0, {"type": "integration/model/openai", "name": "o1", "model_id": "o1"})
    return new


def _with_nulls(manifest: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(manifest)
    new["description"] = None
    new["rules"][0]["when"]["metadata"] = None  # nested nulls are sent (and diffed) as written
    return new


def _nameless(manifest: dict[str, Any]) -> dict[str, Any]:
    new = _changed_weight(manifest)
    del new["name"]
    return new


CASES = [
    ("weight change", ROUTING, _changed_weight(ROUTING)),
    ("identical", ROUTING, copy.deepcopy(ROUTING)),
    ("integrations reordered only", ACCOUNT, _reordered_integrations(ACCOUNT)),
    ("integration added", ACCOUNT, _account_with_new_model(ACCOUNT)),
    ("top-level and nested nulls", ROUTING, _with_nulls(ROUTING)),
    ("no name", ROUTING, _nameless(ROUTING)),
    ("rule removed", ROUTING, {**ROUTING, "rules": []}),
    ("key order differs", ROUTING, dict(reversed(list(ROUTING.items())))),
]


@pytest.mark.parametrize(("existing", "new"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_same_text_as_the_tfy_cli(existing: dict[str, Any], new: dict[str, Any]) -> None:
    assert compute_diff(existing, new) == cli_diff(existing, new)


def test_weight_change_shows_the_lines_the_cli_shows() -> None:
    diff = compute_diff(ROUTING, _changed_weight(ROUTING))
    lines = diff.splitlines()
    assert lines[0] == "--- existing/chat-routing (gateway-load-balancing-config)"
    assert lines[1] == "+++ new/chat-routing (gateway-load-balancing-config)"
    assert "-    weight: 70" in lines
    assert "+    weight: 80" in lines


def test_no_change_and_create_give_empty_diff() -> None:
    assert compute_diff(ROUTING, copy.deepcopy(ROUTING)) == ""
    assert compute_diff(None, ROUTING) == ""
    assert compute_diff({}, ROUTING) == ""  # the CLI treats an empty existingManifest as none
    assert compute_diff(ACCOUNT, _reordered_integrations(ACCOUNT)) == ""


def test_a_create_shows_the_whole_manifest_as_added_lines() -> None:
    new = {**ACCOUNT, "description": None}
    diff = creation_diff(new)
    lines = diff.splitlines()
    assert lines[:3] == [
        "--- /dev/null",
        "+++ new/openai-main (provider-account/openai)",
        f"@@ -0,0 +1,{len(lines) - 3} @@",
    ]
    body = [line[1:] for line in lines[3:]]
    assert all(line.startswith("+") for line in lines[3:])
    # rendered as the update diff renders its new side: applying it and diffing again shows nothing
    assert "\n".join(body) + "\n" == yaml.dump(
        {**ACCOUNT, "integrations": sorted(ACCOUNT["integrations"], key=lambda i: i["name"])}, sort_keys=True, indent=2
    )
    assert "description" not in diff
    assert compute_diff(ACCOUNT, new) == ""


def test_plan_diff_is_the_cli_diff_for_updates_and_the_creation_diff_for_creates() -> None:
    for existing, new in [case[1:] for case in CASES]:
        assert plan_diff(existing, new) == cli_diff(existing, new)
    assert plan_diff(None, ROUTING) == plan_diff({}, ROUTING) == creation_diff(ROUTING)
    assert "+    weight: 70\n" in plan_diff(None, ROUTING)


def test_strip_none_fields_matches_the_cli_payload() -> None:
    manifest = {"type": "t", "name": None, "a": None, "b": {"c": None, "d": [None, {"e": None}]}, "f": 0}
    expected = ManifestLike.parse_obj(manifest).dict(exclude_unset=True, exclude_none=True)
    assert strip_none_fields(manifest) == expected
    assert manifest["a"] is None  # input untouched


def test_labels() -> None:
    assert manifest_label(ROUTING) == "chat-routing (gateway-load-balancing-config)"
    assert manifest_label({"type": "gateway-budget-config"}) == "manifest (gateway-budget-config)"


def test_inputs_are_not_mutated() -> None:
    existing = copy.deepcopy(ACCOUNT)
    new = _reordered_integrations(ACCOUNT)
    before = copy.deepcopy(new)
    compute_diff(existing, new)
    assert existing == ACCOUNT
    assert new == before


def test_change_diff_between_two_versions_is_the_cli_diff_or_a_whole_creation_or_deletion() -> None:
    from tfy_gateway.manifests.diff import change_diff

    old = {"name": "t", "type": "team", "members": ["a@x"]}
    new = {"name": "t", "type": "team", "members": ["a@x", "b@x"]}
    assert change_diff(old, new) == compute_diff(old, new) and "+- b@x" in change_diff(old, new)
    assert change_diff(None, new) == creation_diff(new)
    deleted = change_diff(old, None)
    assert deleted.startswith("--- existing/t (team)\n+++ /dev/null\n") and "-- a@x" in deleted
    assert not any(line.startswith("+") for line in deleted.splitlines()[2:])
    assert change_diff(old, old) == "" and change_diff(None, None) == ""
