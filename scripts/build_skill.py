"""Assemble the self-contained skill directory `skill/tfy-gateway/` from the repository's single sources.

`skill/tfy-gateway/SKILL.md` is edited in place. Its reference docs and helper scripts are kept once, in
the top-level `references/` and `scripts/`, and copied here so the skill folder works on its own (the
Agent Skills layout: links and scripts relative to the folder; a copy of the folder is the whole skill).
The copies are committed, so a plugin installed from git needs no build step; the test suite fails when
they are stale (`make skill` refreshes them).

    python scripts/build_skill.py          # write the copies
    python scripts/build_skill.py --check  # exit 1 and list what is stale, write nothing
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SKILL_NAME = "tfy-gateway"
SKILL_DIR = REPO_ROOT / "skill" / SKILL_NAME
REFERENCES = REPO_ROOT / "references"
SCRIPTS = REPO_ROOT / "scripts"
# The skill's own helpers; the other scripts (benchmarks, this one, the plugin launcher) are not part of it.
SKILL_SCRIPTS = ("tfy-api.sh", "tfy-version.sh")


def sources() -> dict[str, Path]:
    """Path inside the skill directory -> the file it is copied from."""
    wanted = {f"references/{path.name}": path for path in sorted(REFERENCES.glob("*.md"))}
    wanted.update({f"scripts/{name}": SCRIPTS / name for name in SKILL_SCRIPTS})
    return wanted


def _copied_dirs() -> list[Path]:
    return [SKILL_DIR / "references", SKILL_DIR / "scripts"]


def stale() -> list[str]:
    """What differs between the skill directory and its sources ([] when fresh)."""
    problems = []
    wanted = sources()
    for relative, source in wanted.items():
        target = SKILL_DIR / relative
        if not target.is_file():
            problems.append(f"missing: skill/{SKILL_NAME}/{relative}")
        elif target.read_bytes() != source.read_bytes():
            problems.append(f"differs from {source.relative_to(REPO_ROOT)}: skill/{SKILL_NAME}/{relative}")
        elif (target.stat().st_mode & 0o111) != (source.stat().st_mode & 0o111):
            problems.append(f"executable bit differs from {source.relative_to(REPO_ROOT)}: {relative}")
    for directory in _copied_dirs():
        for path in sorted(directory.rglob("*")) if directory.is_dir() else []:
            relative = path.relative_to(SKILL_DIR).as_posix()
            if path.is_file() and relative not in wanted:
                problems.append(f"no source for: skill/{SKILL_NAME}/{relative}")
    return problems


def build() -> list[str]:
    """Write the copies (and remove copies whose source is gone); return what changed."""
    changed = stale()
    wanted = sources()
    for directory in _copied_dirs():
        for path in sorted(directory.rglob("*"), reverse=True) if directory.is_dir() else []:
            if path.is_file() and path.relative_to(SKILL_DIR).as_posix() not in wanted:
                path.unlink()
    for relative, source in wanted.items():
        target = SKILL_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        shutil.copymode(source, target)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report stale copies and exit 1; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("the skill directory is stale: run `make skill`", file=sys.stderr)
        return 1 if problems else 0
    for change in build():
        print(f"updated ({change})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
