"""`serve`'s check of the state files before it starts, and `--reset-state`.

A state file the gateway cannot use stops `serve` with one line on stderr (which file, what is
wrong, what to do) and exit status 2, before uvicorn starts: never a traceback. `--reset-state
limits` moves `limits.sqlite3` aside first (kept as `limits.sqlite3.reset-<UTC time>`), so every
rate-limit window and budget spend starts from zero, and says so.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tfy_gateway.gateway.dir_lock import owner_of
from tfy_gateway.gateway.limits.state_file import LIMITS_FILE, StateFileError, check_counters, move_aside
from tfy_gateway.gateway.settings import GatewaySettings


def prepare_state_files(settings: GatewaySettings, reset: Sequence[str]) -> int | None:
    """Reset what `reset` names, then check the files a start will open. An exit status to stop with
    (the reason printed), or None to go on."""
    path = settings.data_dir / LIMITS_FILE
    if "limits" in reset:
        if settings.redis_url is not None:
            print(
                "error: --reset-state limits: with --redis-url the counters live in Redis, not in "
                f"{path}; nothing was reset (delete the keys under '{settings.redis_key_prefix}:{{limits}}:' "
                "in Redis to start them from zero)",
                file=sys.stderr,
            )
            return 2
        pid = owner_of(settings.data_dir)
        if pid is not None:
            print(
                f"error: --reset-state limits: a gateway (pid {pid or 'unknown'}) serves {settings.data_dir}; "
                "stop it first",
                file=sys.stderr,
            )
            return 2
        moved = move_aside(path)
        if moved is not None:
            print(
                f"moved the rate-limit and budget counters file aside to {moved}: every rate-limit window "
                "and budget spend starts from zero",
                file=sys.stderr,
            )
    if settings.redis_url is None:
        try:
            check_counters(path)
        except StateFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return None
