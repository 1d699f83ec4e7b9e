"""The manifests shown in the budget, rate-limit and observability references validate, and the budgets API
list is the SDK's."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tfy_gateway.manifests import has_errors, load_text, validate_documents

REFERENCES = REPO_ROOT / "references"
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
V2_TYPES = ("tenant-budget-config", "team-budget-config", "tenant-rate-limit-config/")


def _blocks(name: str) -> list[tuple[str, str]]:
    text = (REFERENCES / name).read_text(encoding="utf-8")
    return [(f"{name}#{index}", block) for index, block in enumerate(YAML_BLOCK.findall(text))]


BLOCKS = _blocks("budgets.md") + [
    (where, block) for where, block in _blocks("rate-limiting.md") if "tenant-rate-limit-config/" in block
]
OTEL_BLOCKS = _blocks("observability.md")


def test_the_references_show_every_v2_type() -> None:
    shown = {doc.data["type"] for where, block in BLOCKS for doc in load_text(block, where)}
    assert {"gateway-budget-config", "tenant-budget-config", "team-budget-config"} <= shown
    assert {"tenant-rate-limit-config/model", "tenant-rate-limit-config/mcp"} <= shown


@pytest.mark.parametrize(("where", "block"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_each_manifest_in_the_references_validates(where: str, block: str) -> None:
    findings = validate_documents(load_text(block, where))
    assert not has_errors(findings), [f.format() for f in findings]
    assert {f.code for f in findings} <= {"audit-mode"}, [f.format() for f in findings]


@pytest.mark.parametrize(("where", "block"), OTEL_BLOCKS, ids=[where for where, _ in OTEL_BLOCKS])
def test_the_otel_config_in_the_reference_validates_cleanly(where: str, block: str) -> None:
    findings = validate_documents(load_text(block, where))
    assert findings == [], [f.format() for f in findings]


def test_budgets_reference_lists_exactly_the_sdk_budget_endpoints() -> None:
    """Paths read from truefoundry-sdk's raw client, so the list cannot drift from the SDK it cites."""
    if importlib.util.find_spec("truefoundry_sdk") is None:
        pytest.skip("truefoundry-sdk (a dev dependency) is not installed")
    spec = importlib.util.find_spec("truefoundry_sdk.gateway_budgets.raw_client")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8")
    calls = re.findall(r'request\(\s*f?"(api/svc/v1/llm-gateway/budgets[^"]*)",\s*method="(\w+)"', source)
    sdk = {(method, "/" + re.sub(r"\{encode_path_param\((\w+)\)\}", r"{\1}", path)) for path, method in calls}
    assert len(sdk) == 7
    text = (REFERENCES / "budgets.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(GET|PUT|POST|DELETE) (/api/svc/v1/llm-gateway/budgets[^` ]*)`", text, re.M))
    assert documented == sdk
