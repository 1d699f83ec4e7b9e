"""LiteLLM's proxy for comparison: installed on demand into its own venv (never a project dependency),
one worker, no database, a config pointing at the bench upstream.

The venv lives under `~/.cache/tfy-gateway/bench/litellm-venv` (or `--litellm-venv`); it is built
once with `pip install 'litellm[proxy]'` from the package index and reused after. A failed install
is reported as the reason LiteLLM was skipped, never as a failed benchmark.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import yaml

DEFAULT_VENV = Path.home() / ".cache" / "tfy-gateway" / "bench" / "litellm-venv"
INSTALL_TIMEOUT_S = 1800  # a hang guard: the install pulls a few hundred MB


class InstallError(RuntimeError):
    pass


def ensure_installed(venv: Path) -> str:
    """The `litellm` executable in `venv`, installing it first when missing; returns its version."""
    executable = venv / "bin" / "litellm"
    if not executable.exists():
        print(f"installing litellm[proxy] into {venv} (once; reused after) ...", file=sys.stderr, flush=True)
        try:
            if not (venv / "bin" / "python").exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "litellm[proxy]"],
                check=True,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
            )
        except subprocess.CalledProcessError as exc:
            output = (exc.stderr or exc.stdout or "").strip().splitlines()
            raise InstallError(f"pip install 'litellm[proxy]' into {venv} failed: {' '.join(output[-3:])}") from None
        except subprocess.TimeoutExpired:
            raise InstallError(f"pip install 'litellm[proxy]' took over {INSTALL_TIMEOUT_S} s") from None
        if not executable.exists():
            raise InstallError(f"pip install 'litellm[proxy]' left no {executable}")
    return version(venv)


def version(venv: Path) -> str:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def write_config(path: Path, upstream: str) -> str:
    """LiteLLM's config: model `gpt-4o` on the upstream, a master key (returned), nothing else."""
    master_key = "sk-bench-" + secrets.token_hex(12)
    config = {
        "model_list": [
            {
                "model_name": "gpt-4o",
                "litellm_params": {"model": "openai/gpt-4o", "api_base": f"{upstream}/v1", "api_key": "sk-bench"},
            }
        ],
        "general_settings": {"master_key": master_key},
        "litellm_settings": {"telemetry": False, "drop_params": True},
    }
    path.write_text(yaml.safe_dump(config))
    return master_key


def command(venv: Path, config: Path, port: int) -> list[str]:
    """One worker (`--num_workers 1`), the config above, loopback."""
    executable = str(venv / "bin" / "litellm")
    return [executable, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]


ENVIRONMENT: dict[str, str | None] = {
    "DATABASE_URL": None,
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the cost map at start
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
}
