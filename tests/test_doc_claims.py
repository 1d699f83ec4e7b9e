"""The docs do not claim what the code contradicts, for the claims that went stale before: which
families the gateway enforces, whether Redis sharing exists, which version intents render, the V1
retirement warning; and every relative link in them resolves.

The skill's copies (`skill/tfy-gateway/references/`) are checked too: `make skill` rewrites them from
`references/` (and `tests/test_skill.py` fails when they are stale)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tfy_gateway.gateway.config.enforced import ENFORCED_TYPES
from tfy_gateway.gateway.config.plans import NOT_ENFORCED_LOCALLY
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.intents import BudgetIntent, RateLimitIntent, render
from tfy_gateway.manifests import validate_manifest
from tfy_gateway.manifests.lint import V1_RATE_LIMIT_RETIREMENT

DOCS = sorted(
    [
        *REPO_ROOT.glob("references/*.md"),
        *REPO_ROOT.glob("skill/tfy-gateway/references/*.md"),
        REPO_ROOT / "skill/tfy-gateway/SKILL.md",
        REPO_ROOT / "README.md",
        REPO_ROOT / "examples/README.md",
    ]
)
NOT_ENFORCED = re.compile(r"not (yet )?enforced|does not enforce|never enforced|isn't enforced|unenforced", re.I)
# What a sentence about a family names it by, for the enforced families whose docs said otherwise.
ENFORCED_FAMILIES = {
    "budgets": re.compile(r"\bbudgets?\b|budget-config", re.I),
    "model rate limits": re.compile(r"\brate[- ]limits?\b|rate-limit(ing)?-config(?!/mcp)", re.I),
}
# How a sentence names a family that is stored but not enforced (so it may say so).
UNENFORCED_NAMES = re.compile(r"\bmcp\b|guardrail|/mcp|not-enforced-locally", re.I)


def sentences(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", " ", path.read_text(encoding="utf-8"), flags=re.S)
    lines = [line for line in text.splitlines() if line.startswith("|")]  # table rows: each a statement
    prose = "\n".join(line for line in text.splitlines() if not line.startswith("|"))
    parts = re.split(r"(?<=[.!?])\s+|\n\s*\n|\n- ", prose)
    return [" ".join(s.split()) for s in [*parts, *lines] if s.strip()]


def shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


@pytest.mark.parametrize("doc", DOCS, ids=shown)
def test_no_doc_says_an_enforced_family_is_not_enforced(doc: Path) -> None:
    assert {"gateway-budget-config", "tenant-budget-config", "gateway-rate-limiting-config"} <= ENFORCED_TYPES
    stale = [
        sentence
        for sentence in sentences(doc)
        if NOT_ENFORCED.search(sentence)
        and any(family.search(sentence) for family in ENFORCED_FAMILIES.values())
        and not UNENFORCED_NAMES.search(sentence)
    ]
    assert stale == [], f"{shown(doc)} says an enforced family is not enforced: {stale}"


def test_the_unenforced_list_is_what_the_docs_may_name() -> None:
    for manifest_type, words in NOT_ENFORCED_LOCALLY.items():
        assert UNENFORCED_NAMES.search(manifest_type) or UNENFORCED_NAMES.search(words), manifest_type


@pytest.mark.parametrize("doc", DOCS, ids=shown)
def test_no_doc_calls_redis_sharing_future_work(doc: Path) -> None:
    assert "redis_url" in GatewaySettings.model_fields
    stale = [
        s
        for s in sentences(doc)
        if re.search(r"redis[^.|]*\b(future work|not (yet )?(supported|implemented))", s, re.I)
    ]
    assert stale == [], f"{shown(doc)} says Redis sharing does not exist: {stale}"


@pytest.mark.parametrize("doc", DOCS, ids=shown)
def test_no_doc_says_intents_render_v1_by_default(doc: Path) -> None:
    assert render(RateLimitIntent(subjects=["*"], limit=5, unit="requests_per_minute", applies_per=[]))["type"] == (
        "tenant-rate-limit-config/model"
    )
    assert render(BudgetIntent(subjects=["*"], limit=5, unit="cost_per_day", applies_per=[]))["type"] == (
        "tenant-budget-config"
    )
    stale = [
        s
        for s in sentences(doc)
        if (
            re.search(r"\b(v1|gateway-(rate-limiting|budget)-config)\b[^.|;]*\b(is|are|as) the default\b", s, re.I)
            or re.search(r"rendered as v1|v1 by default", s, re.I)
        )
        and not re.search(r"token budget", s, re.I)
    ]
    assert stale == [], f"{shown(doc)} says V1 is the default: {stale}"


def test_the_retirement_date_the_docs_give_is_the_validators() -> None:
    manifest = {"name": "r", "type": "gateway-rate-limiting-config", "rules": []}
    (warning,) = [f for f in validate_manifest(manifest) if f.code == "v1-rate-limits-deprecated"]
    assert V1_RATE_LIMIT_RETIREMENT in warning.message and "tfy-gateway migrate limits" in (warning.hint or "")
    skill = (REPO_ROOT / "skill/tfy-gateway/SKILL.md").read_text()
    assert V1_RATE_LIMIT_RETIREMENT in skill


LINK = re.compile(r"(!?)\[[^\]]*\]\(([^)#\s]+)(?:#[^)]*)?\)")
SKILL_COPIES = REPO_ROOT / "skill/tfy-gateway/references"


@pytest.mark.parametrize("doc", DOCS, ids=shown)
def test_every_relative_link_resolves(doc: Path) -> None:
    text = re.sub(r"```.*?```", " ", doc.read_text(encoding="utf-8"), flags=re.S)
    # The skill's copies carry the text only: an image there (a dashboard screenshot) stays in references/.
    targets = [
        target
        for image, target in LINK.findall(text)
        if not re.match(r"[a-z]+:", target) and not (image and doc.parent == SKILL_COPIES)
    ]
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert missing == [], f"{shown(doc)} links to missing files: {missing}"
    if doc.name == "README.md" and doc.parent.name == "examples":
        assert "../reference/" not in text
