"""The skill directory is a valid Agent Skill on its own: named like its folder, fresh copies of the
references and scripts, every link inside the folder, and a copy of the folder alone still works."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SKILL = REPO_ROOT / "skill" / "tfy-gateway"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PIP_INSTALL = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
MENTIONED_PATH = re.compile(r"`((?:scripts|references)/[\w-]+\.\w+)")


def _build_skill() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_skill", REPO_ROOT / "scripts" / "build_skill.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _local_targets(skill_dir: Path) -> set[str]:
    """Relative paths SKILL.md links to or names in backticks (URLs excluded)."""
    text = (skill_dir / "SKILL.md").read_text(encoding="utf-8")
    links = {target for target in LINK.findall(text) if "://" not in target}
    return links | set(MENTIONED_PATH.findall(text))


@pytest.fixture(scope="session")
def skills_ref(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the Agent Skills reference validator (PyPI `skills-ref`, command `agentskills`).

    It is a dev extra; when this environment predates that, it is installed into a scratch directory.
    """
    env = dict(os.environ)
    if importlib.util.find_spec("skills_ref") is None:
        if sys.version_info < (3, 11):
            pytest.skip("skills-ref needs Python 3.11+")
        target = tmp_path_factory.mktemp("skills-ref")
        done = subprocess.run(
            [*PIP_INSTALL, "--target", str(target), "skills-ref>=0.1.1,<0.2"],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"skills-ref is not installed and pip could not install it: {done.stderr[-500:]}")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH")]))

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from skills_ref.cli import main; main()", *map(str, args)]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)

    return run


def test_assembled_copies_are_fresh() -> None:
    problems = _build_skill().stale()
    assert problems == [], "skill/tfy-gateway is stale, run `make skill`:\n" + "\n".join(problems)


def test_reference_validator_accepts_the_skill(skills_ref: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = skills_ref("validate", SKILL)
    assert result.returncode == 0, result.stdout + result.stderr
    properties = json.loads(skills_ref("read-properties", SKILL).stdout)
    assert properties["name"] == SKILL.name == "tfy-gateway"


def test_every_link_and_script_stays_inside_the_skill_folder() -> None:
    targets = _local_targets(SKILL)
    assert {"references/workflow.md", "scripts/tfy-api.sh", "scripts/tfy-version.sh"} <= targets
    for target in sorted(targets):
        resolved = (SKILL / target).resolve()
        assert resolved.is_relative_to(SKILL.resolve()), f"{target} points outside the skill folder"
        assert resolved.is_file(), f"SKILL.md names {target}, which the skill folder does not have"
    front_matter = (SKILL / "SKILL.md").read_text(encoding="utf-8").split("---")[1]
    allowed = re.search(r"^allowed-tools: (.*)$", front_matter, re.MULTILINE)
    assert allowed is not None
    for script in re.findall(r"Bash\(([^ )]*scripts/[^ )]+)", allowed.group(1)):
        assert script.startswith("${CLAUDE_SKILL_DIR}/scripts/"), f"{script} is not the skill's own script"
        assert (SKILL / script.removeprefix("${CLAUDE_SKILL_DIR}/")).is_file()


def test_a_copy_of_the_folder_alone_works(
    tmp_path: Path, skills_ref: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    copy = tmp_path / "elsewhere" / "tfy-gateway"
    shutil.copytree(SKILL, copy, symlinks=True)
    assert not [p for p in copy.rglob("*") if p.is_symlink()], "the skill must not depend on symlinks"
    assert skills_ref("validate", copy).returncode == 0
    for target in _local_targets(copy):
        assert (copy / target).is_file(), target
    version = subprocess.run(
        [str(copy / "scripts" / "tfy-version.sh"), "python"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    assert version.returncode == 0, version.stderr
    assert "version" in json.loads(version.stdout)["python"]
