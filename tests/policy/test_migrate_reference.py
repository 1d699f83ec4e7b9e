"""references/migrate-v2.md: its worked example migrates to exactly the YAML it shows, with the report it describes."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import anyio
import yaml

from tests.helpers import REPO_ROOT
from tfy_gateway.policy.generate import BURSTS
from tfy_gateway.policy.migration import run_migration

REFERENCE = REPO_ROOT / "references" / "migrate-v2.md"
BLOCK = re.compile(r"<!-- migrate-(example|output): ([\w-]+) -->\s*```yaml\n(.*?)```", re.S)


def blocks() -> dict[tuple[str, str], list[dict[str, Any]]]:
    text = REFERENCE.read_text(encoding="utf-8")
    return {(kind, name): [d for d in yaml.safe_load_all(body) if d] for kind, name, body in BLOCK.findall(text)}


def test_the_worked_example_migrates_to_the_yaml_shown_and_proves_equivalent() -> None:
    found = blocks()
    assert ("example", "exception") in found and ("output", "exception") in found
    result = anyio.run(run_migration, found[("example", "exception")])
    written = [d for d in yaml.safe_load_all(result.rate_limits_yaml) if d]
    assert written == found[("output", "exception")]
    assert result.families[0].report.equivalent


def test_with_overlap_the_batch_owners_requests_61_to_300_differ_by_first_match() -> None:
    result = anyio.run(partial(run_migration, blocks()[("example", "exception")], strategy="overlap"))
    differences = result.families[0].report.differences
    assert {(d.code, d.request.caller) for d in differences} == {("first-match", "user:batch-owner@example.com")}
    assert len(differences) == (300 - 60) * len(BURSTS)
