"""What start-up does not load: modules a gateway or a `validate` run needs only for some configurations.

Each is a sizeable share of start-up (references/performance.md, "Start-up"); they load on first use
(the first upstream call, the first `/ui` page, the first guardrail group or apply, a YAML secrets
file; yarl with the upstream client or the first upstream error message). The check imports in a
fresh interpreter, as `serve` and `validate` do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import code_under_test_env

DEFERRED = (
    "aiohttp",
    "jinja2",
    "yaml",
    "yarl",
    "tfy_gateway.gateway.dashboard.pages",
    "tfy_gateway.gateway.guardrails.registry",
    "tfy_gateway.manifests.guardrail_groups",
    "tfy_gateway.manifests.guardrail_vendors",
    "tfy_gateway.manifests.lint",
    "tfy_gateway.manifests.lint_guardrails",
)


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(' '.join(m for m in {DEFERRED!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=code_under_test_env()
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_building_the_app_loads_none_of_the_deferred_modules(tmp_path: Path) -> None:
    code = (
        "from tfy_gateway.cli import servers; from tfy_gateway.gateway import GatewaySettings, create_app; "
        f"create_app(GatewaySettings(data_dir={str(tmp_path)!r}))"
    )
    assert _loaded_after(code) == []


def test_validating_a_rate_limit_loads_no_guardrail_model() -> None:
    code = (
        "from tfy_gateway.manifests import validate_documents, load_text; "
        "doc = 'name: l\\ntype: tenant-rate-limit-config/model\\nlimits: {requests_per_minute: 5}\\n"
        "applies_to: {type: per-user}\\nmode: enforce\\n'; validate_documents(load_text(doc))"
    )
    loaded = _loaded_after(code)
    assert "tfy_gateway.manifests.guardrail_groups" not in loaded
    assert "tfy_gateway.manifests.lint_guardrails" not in loaded
    assert "tfy_gateway.manifests.lint" in loaded  # the probe did validate
