"""The built wheel carries the skill directory (with its reference docs) and the dashboard's templates and
static files, and the MCP server it installs serves those docs.

The wheel is built from a clean copy of the repository (stale `build/` directories leak into wheels) with
`pip wheel --no-build-isolation` when this environment's packages satisfy `[build-system] requires`, so no
network is needed; otherwise pip builds it in isolation and fetches the build requirements from the index.
It is installed with `--no-deps` into a scratch venv that borrows this environment's dependencies through a
`.pth` file (whose directories' own `.pth` files, such as the editable install's, are not processed), and
the server is asked for its resources from there.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from packaging.requirements import Requirement

from tests.helpers import REPO_ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REFERENCES = REPO_ROOT / "references"
SKILL = REPO_ROOT / "skill"
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*_cache", ".tfy-gateway"
)

# Runs in the scratch venv with -I (no PYTHONPATH, no cwd on sys.path): what the installed wheel serves.
PROBE = """
import asyncio, json, os
from pathlib import Path

import tfy_gateway
from mcp import Client
from tfy_gateway.mcp import create_server


async def main():
    references = {}
    async with Client(create_server({}), raise_exceptions=True) as client:
        for resource in (await client.list_resources()).resources:
            uri = str(resource.uri)
            if uri.startswith("gateway://references/"):
                references[uri] = (await client.read_resource(uri)).contents[0].text
    skill_dir = Path(tfy_gateway.__file__).parent / "skill"
    files = [p for p in skill_dir.rglob("*") if p.is_file()]
    skill = {p.relative_to(skill_dir).as_posix(): p.read_text(encoding="utf-8") for p in files}
    executable = sorted(p.relative_to(skill_dir).as_posix() for p in files if os.access(p, os.X_OK))
    from tfy_gateway.gateway.dashboard.render import Page, Renderer, static_file

    login = Renderer().render(Page("login.html.j2", {"next": "/ui", "error": None}), viewer=None, section="login",
                              navigation=(), prefix="/ui").body.decode()
    dashboard = {"login": 'name="token"' in login, "css": static_file("dashboard.css") is not None,
                 "icon": static_file("favicon.svg") is not None}
    print(json.dumps({"file": tfy_gateway.__file__, "references": references, "skill": skill, "executable": executable,
                      "dashboard": dashboard}))


asyncio.run(main())
"""


def _run(*args: str | Path, cwd: Path | None = None, scratch: bool = True) -> str:
    """Run a command; `scratch` ones (on the scratch venv) do not inherit PYTHONPATH and the like."""
    env = dict(os.environ)
    if scratch:
        env = {k: v for k, v in env.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV"}}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _build_isolation() -> list[str]:
    """`--no-build-isolation` when this environment already satisfies [build-system] requires."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in map(Requirement, pyproject["build-system"]["requires"]):
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return []
        if not requirement.specifier.contains(version, prereleases=True):
            return []
    return ["--no-build-isolation"]


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def test_installed_wheel_ships_the_skill_and_serves_every_reference(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO_ROOT, source, ignore=IGNORED)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(*pip, "wheel", "--no-deps", *_build_isolation(), "-w", wheels, source, scratch=False)
    (wheel,) = wheels.glob("tfy_gateway-*.whl")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = _venv_python(venv)
    # Install into the empty venv first: with this environment visible, pip would see the editable install.
    _run(*pip, "--python", python, "install", "--no-deps", "--no-index", "--no-compile", wheel)
    site_packages = _run(python, "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(site_packages) / "_borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n", encoding="utf-8")

    workdir = tmp_path / "work"
    workdir.mkdir()
    served = json.loads(_run(python, "-I", "-c", PROBE, cwd=workdir))

    assert Path(served["file"]).resolve().is_relative_to(venv.resolve()), f"imported {served['file']}, not the wheel"
    expected = {f"gateway://references/{p.stem}": p.read_text(encoding="utf-8") for p in REFERENCES.glob("*.md")}
    assert expected, "the repository has no references/*.md"
    assert sorted(served["references"]) == sorted(expected)
    assert served["references"] == expected
    skill = {p.relative_to(SKILL).as_posix(): p.read_text(encoding="utf-8") for p in SKILL.rglob("*") if p.is_file()}
    assert "tfy-gateway/SKILL.md" in skill and "tfy-gateway/references/workflow.md" in skill
    assert served["skill"] == skill
    scripts = sorted(p.relative_to(SKILL).as_posix() for p in SKILL.rglob("*.sh"))
    assert scripts and served["executable"] == scripts, "the skill's scripts must stay executable"
    assert served["dashboard"] == {"login": True, "css": True, "icon": True}, "the dashboard's assets are package data"
