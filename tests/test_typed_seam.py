"""Why this test exists: the seam between manifest models and the compiled config is type-checked.

A stored manifest becomes an enforced policy where a compiler reads its typed model (routing rules,
rate limits, budgets, model access, upstream targets). When that code read fields with `getattr(spec,
"sla_cutoff", None)` or through `Any`, renaming a field in a model gave mypy nothing to report and
the policy silently stopped applying (the getattr default, None, means "no SLA cutoff"). This test
renames one model field a compiler reads, in a copy of the package, runs mypy (strict, the project's
configuration) on the compiler modules and asserts mypy names the renamed field in the compiler: if
it passes, a regression back to untyped reads (`Any`, `getattr`, raw dicts) fails it.

It runs mypy on the compilers and what they import (not the whole package), with its cache in the
test's temp dir: the first run checks them all (about 10 s), each rename re-checks what depends on
the changed module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "server" / "tfy_gateway"
COMPILERS = (
    "tfy_gateway/gateway/routing/compiled.py",
    "tfy_gateway/gateway/limits/policies.py",
    "tfy_gateway/gateway/config/catalog.py",
    "tfy_gateway/gateway/access.py",
)
"""The modules that turn manifest models into the compiled config (they import the rest)."""


@dataclass(frozen=True)
class Rename:
    """Rename a field of a model to `<field>_renamed` on its declaration line in `model_file`."""

    model_file: str
    declaration: str  # how the field's declaration line starts (one line of the file starts so)
    reader: str  # the compiler module that reads the field

    @property
    def field(self) -> str:
        return self.declaration.split(":", 1)[0].strip()


RENAMES = [
    Rename("manifests/routing.py", "    fallback_candidate: bool = True", "gateway/routing/compiled.py"),
    Rename("manifests/routing.py", "    sla_cutoff: SlaCutoff | None = None", "gateway/routing/compiled.py"),
    Rename("manifests/routing.py", "    sticky_routing: StickyRouting | None = None", "gateway/routing/compiled.py"),
    Rename(
        "manifests/limits.py", "    rate_limit_applies_per: list[AppliesPer] | None = Field(", "gateway/limits/rules.py"
    ),
    Rename("manifests/limits.py", "    audit_mode: bool = Field(", "gateway/limits/budgets.py"),
    Rename("manifests/filters_v2.py", "    teams: InNotInFilter | None = Field(", "gateway/limits/v2.py"),
    Rename("manifests/rate_limits_v2.py", "    metadata_values: list[str] = Field(", "gateway/limits/v2.py"),
    Rename("manifests/providers.py", "    hosted_model_name: str = Field(", "gateway/providers/targets.py"),
    Rename("manifests/common.py", "    subject: str = Field(", "gateway/access.py"),
]


@dataclass
class Copy:
    """A copy of the package under `root` and a mypy cache that lives as long as the copy."""

    root: Path
    cache: Path

    def mypy(self) -> list[str]:
        """mypy's error lines for the compiler modules (cwd = the copy, so it is the copy that is checked)."""
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO_ROOT / "pyproject.toml"),
            "--cache-dir",
            str(self.cache),
            "--no-error-summary",
            *COMPILERS,
        ]
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=600)
        assert done.returncode in (0, 1), f"mypy crashed: {done.stderr}\n{done.stdout}"
        return [line for line in done.stdout.splitlines() if ": error:" in line]


def write_fresh(path: Path, text: str) -> None:
    """Write `path` and move its mtime past any it had: mypy's cache trusts a file whose size and whole-second
    mtime are unchanged, and two renames in one file within a second have the same size (a stale cache hit
    reported the previous rename's error instead of this one's)."""
    before = path.stat().st_mtime
    path.write_text(text, encoding="utf-8")
    stamp = max(time.time(), before + 2)
    os.utime(path, (stamp, stamp))


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copy]:
    root = tmp_path_factory.mktemp("typed-seam")
    shutil.copytree(PACKAGE, root / "tfy_gateway", ignore=shutil.ignore_patterns("__pycache__"))
    yield Copy(root, root / ".mypy_cache")


def test_the_unmodified_copy_type_checks(package_copy: Copy) -> None:
    """The baseline: every error the renames below produce comes from the rename."""
    assert package_copy.mypy() == []


@pytest.mark.parametrize("rename", RENAMES, ids=lambda r: f"{r.model_file}:{r.field}")
def test_renaming_a_model_field_is_a_type_error_in_its_compiler(package_copy: Copy, rename: Rename) -> None:
    model_file = package_copy.root / "tfy_gateway" / rename.model_file
    original = model_file.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if line.startswith(rename.declaration)]
    assert len(found) == 1, f"{len(found)} lines of {rename.model_file} start with {rename.declaration!r}"
    lines[found[0]] = lines[found[0]].replace(rename.field, rename.field + "_renamed", 1)
    write_fresh(model_file, "".join(lines))
    try:
        errors = package_copy.mypy()
    finally:
        write_fresh(model_file, original)
    in_reader = [line for line in errors if line.startswith(f"tfy_gateway/{rename.reader}:")]
    attribute = re.compile(rf"\b{re.escape(rename.field)}\b")
    assert any(attribute.search(line) for line in in_reader), (
        f"renaming {rename.field} in {rename.model_file} gave no error naming it in {rename.reader}: {errors}"
    )
