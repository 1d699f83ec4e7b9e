"""The code `dataclasses` compiles for a command's classes, kept on disk for the command's next start.

Why: `@dataclass` writes each method it adds (`__init__`, `__repr__`, `__eq__`, `__hash__`, a frozen
class's `__setattr__` and `__delattr__`) as source text and compiles it with `exec`. Parsing and
compiling those ~900 functions was about a quarter of the CPU `serve` spends importing its modules
(references/performance.md, round 8). The code compiled from a text is always the same, so a command
keeps it, per Python bytecode version, beside the package's bytecode (`__pycache__`, which `.pyc`
files already have to be trusted in), and its next start runs that code instead of compiling the text
again. The classes are the same either way: only the parsing and compiling are skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import marshal
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import tfy_gateway

HEADER = importlib.util.MAGIC_NUMBER
"""Stored with the code: code of another bytecode version is never run."""


def cache_path(command: str) -> Path | None:
    """Where `command` keeps its classes' code: beside the package's bytecode, honouring
    `sys.pycache_prefix` as `.pyc` files do; None when this interpreter caches no bytecode."""
    if sys.implementation.cache_tag is None:
        return None
    package_bytecode = Path(importlib.util.cache_from_source(tfy_gateway.__file__))
    return package_bytecode.parent / f"dataclass-code.{command}.{sys.implementation.cache_tag}.marshal"


class DataclassCode:
    """What `dataclasses` calls instead of `exec` while installed: known texts run their kept code."""

    def __init__(self, known: dict[str, CodeType]) -> None:
        self.known = known
        self.used: dict[str, CodeType] = {}
        self.compiled = 0

    def __call__(self, source: Any, /, *args: Any, **kwargs: Any) -> None:
        if isinstance(source, str):
            code = self.known.get(source)
            if not isinstance(code, CodeType):
                # dont_inherit: compiled with the flags `dataclasses` has (no __future__ imports), not this
                # module's, as `exec` of the text would be.
                code = compile(source, "<string>", "exec", dont_inherit=True)
                self.compiled += 1
            self.used[source] = code
            source = code
        exec(source, *args, **kwargs)

    def changed(self) -> bool:
        """Whether the kept code differs from what this start used (new classes, or classes gone)."""
        return self.compiled > 0 or len(self.used) != len(self.known)


@contextlib.contextmanager
def kept_dataclass_code(command: str) -> Iterator[DataclassCode | None]:
    """Within the block, dataclasses use `command`'s kept code; afterwards the kept code is replaced by
    what the block used when that differs (not with `python -B` / PYTHONDONTWRITEBYTECODE, like `.pyc`
    files), and `dataclasses` has the builtin `exec` again. A block that raises keeps nothing."""
    path = cache_path(command)
    if path is None or "exec" in vars(dataclasses):  # no bytecode cache, or a block already open
        yield None
        return
    code = DataclassCode(_read(path))
    namespace = vars(dataclasses)
    namespace["exec"] = code  # a global of `dataclasses` shadows the builtin there alone
    try:
        yield code
    finally:
        del namespace["exec"]
    if code.changed() and not sys.dont_write_bytecode:
        _write(path, code.used)


def _read(path: Path) -> dict[str, CodeType]:
    """The kept code, or nothing when the file is missing, unreadable, damaged or of another version."""
    try:
        stored = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == HEADER and isinstance(stored[1], dict):
        return stored[1]
    return {}


def _write(path: Path, code: dict[str, CodeType]) -> None:
    """Replace the kept code at once (a concurrent start reads the old file or the new one); a directory
    that cannot be written leaves the next start compiling, as without the file."""
    import tempfile  # only when there is something to write: a start with its code kept does not load it

    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(marshal.dumps((HEADER, code)))
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
