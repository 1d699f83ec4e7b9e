"""The data dir and its databases are readable by their owner only.

They hold token hashes, request logs (prompts, when body logging is on) and provider keys given as
plaintext `api_key` in manifests. A data dir the gateway creates is mode 0700; an existing one is
left as its owner set it (it may be a shared directory). Database files are created 0600 before
SQLite opens them; SQLite gives their -wal and -shm files the same mode.
"""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) with mode 0700; an existing directory is not changed."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is subject to the umask


def private_file(path: Path) -> None:
    """Make sure `path` exists with mode 0600 (created empty if missing, as SQLite expects)."""
    private_dir(path.parent)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)
    os.chmod(path, 0o600)
