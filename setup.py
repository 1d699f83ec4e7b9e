"""Build hook only; the project is configured in pyproject.toml.

The skill lives at the top of the repository as one self-contained directory, `skill/tfy-gateway/`
(SKILL.md plus copies of `references/*.md` and its scripts, assembled by `make skill`), and is shipped
as package data `tfy_gateway/skill/tfy-gateway/`; the MCP server serves its reference docs from there.
It is added to build_py's data files, so wheels copy it, sdists include it and strict editable installs
link it; a lenient editable install (`pip install -e .`) copies nothing and the code reads the
checkout's `references/`.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# package-data directory -> (directory in the repository, glob of the files shipped)
BUNDLED = {
    "tfy_gateway.skill": ("skill", "**/*"),
}


class BuildPyWithSkill(build_py):
    def _bundled_data_files(self) -> list[tuple[str, str, str, list[str]]]:
        """(package, src_dir, build_dir, filenames) tuples, like build_py's own data files."""
        data_files = []
        for package, (src_dir, pattern) in BUNDLED.items():
            files = sorted(
                path.relative_to(src_dir).as_posix()
                for path in Path(src_dir).glob(pattern)
                if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
            )
            if not files:
                raise FileNotFoundError(f"no {src_dir}/{pattern} to ship as {package} (build from the repository)")
            data_files.append((package, src_dir, os.path.join(self.build_lib, *package.split(".")), files))
        return data_files

    def _get_data_files(self):
        return [*super()._get_data_files(), *self._bundled_data_files()]

    def get_data_files_without_manifest(self):
        return [*super().get_data_files_without_manifest(), *self._bundled_data_files()]


setup(cmdclass={"build_py": BuildPyWithSkill})
