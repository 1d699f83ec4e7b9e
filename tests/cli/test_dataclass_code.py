"""A command's dataclasses made from kept code are the classes `dataclasses` makes, and the code is kept
only when it changed, never from a failed block, never without bytecode writing."""

from __future__ import annotations

import dataclasses
import inspect
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SUBPROCESS_TIMEOUT_S, code_under_test_env
from tfy_gateway.cli import _dataclass_code
from tfy_gateway.cli._dataclass_code import HEADER, kept_dataclass_code


def make_classes() -> tuple[type, type]:
    """A frozen class with defaults and a plain one with a factory: every method `dataclass` generates."""

    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        y: str = "a"
        tags: tuple[str, ...] = ()

    @dataclasses.dataclass(order=True)
    class Box:
        size: float
        items: list[int] = dataclasses.field(default_factory=list)

    return Point, Box


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pycache" / "dataclass-code.test.marshal"
    monkeypatch.setattr(_dataclass_code, "cache_path", lambda command: path)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return path


def behaviour(point: type, box: type) -> dict[str, object]:
    p = point(1, tags=("t",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2
    return {
        "repr": (repr(p), repr(box(1.5))),
        "eq": (p == point(1, "a", ("t",)), p == point(2), box(1.0) == box(1.0, [])),
        "hash": hash(p) == hash(point(1, tags=("t",))),
        "order": box(1.0) < box(2.0),
        "fresh default": box(1.0).items is not box(1.0).items,
        "signatures": (str(inspect.signature(point)), str(inspect.signature(box))),
        "annotations": (point.__init__.__annotations__, box.__init__.__annotations__),
        "fields": [(f.name, f.type, f.default) for f in dataclasses.fields(point)],
    }


def test_classes_made_from_kept_code_behave_as_classes_made_without(kept: Path) -> None:
    expected = behaviour(*make_classes())
    with kept_dataclass_code("test") as first:
        compiled = behaviour(*make_classes())
    with kept_dataclass_code("test") as second:
        from_kept = behaviour(*make_classes())
    assert first is not None and first.compiled > 0
    assert second is not None and second.compiled == 0 and len(second.used) == len(first.used)
    # Annotations compare too: code compiled with this module's `from __future__ import annotations`
    # would name the generated locals ('_type_x') instead of the field types.
    assert compiled == expected and from_kept == expected


def test_unchanged_code_is_not_written_again_and_changed_code_replaces_it(kept: Path) -> None:
    with kept_dataclass_code("test"):
        make_classes()
    written = kept.stat()
    with kept_dataclass_code("test"):
        make_classes()
    assert kept.stat().st_ino == written.st_ino and kept.stat().st_mtime_ns == written.st_mtime_ns

    with kept_dataclass_code("test") as other:  # a start that makes other classes keeps only those
        dataclasses.make_dataclass("Other", [("z", int)])
    assert other is not None and other.compiled > 0
    stored = marshal.loads(kept.read_bytes())
    assert stored[0] == HEADER and set(stored[1]) == set(other.used)


@pytest.mark.parametrize("content", [b"", b"not marshal data", marshal.dumps((b"old!", {"def f(): pass": 1}))])
def test_a_damaged_or_foreign_file_is_compiled_over(kept: Path, content: bytes) -> None:
    kept.parent.mkdir(parents=True)
    kept.write_bytes(content)
    with kept_dataclass_code("test") as code:
        assert behaviour(*make_classes())["eq"] == (True, False, True)
    assert code is not None and code.compiled > 0
    with kept_dataclass_code("test") as again:
        make_classes()
    assert again is not None and again.compiled == 0


def test_nothing_is_kept_without_bytecode_writing_or_from_a_block_that_raised(
    kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError), kept_dataclass_code("test"):
        make_classes()
        raise RuntimeError("an import failed")
    assert "exec" not in vars(dataclasses) and not kept.exists()

    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    with kept_dataclass_code("test") as code:
        make_classes()
    assert code is not None and code.compiled > 0
    assert "exec" not in vars(dataclasses) and not kept.exists()


def test_a_command_start_keeps_its_code_beside_the_bytecode(tmp_path: Path) -> None:
    """A `validate` started as the command writes its code where `.pyc` files go (here the
    PYTHONPYCACHEPREFIX), and a second start, finding all of it, leaves the file as it is."""
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "name: l\ntype: tenant-rate-limit-config/model\nlimits: {requests_per_minute: 5}\n"
        "applies_to: {type: per-user}\nmode: enforce\n"
    )
    prefix = tmp_path / "pycache"
    probe = (
        "import sys; from tfy_gateway.cli import main, _dataclass_code; "
        "sys.argv = ['tfy-gateway', 'validate', sys.argv[1]]; code = main.main(); "
        "print(code, _dataclass_code.cache_path('validate'))"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPYCACHEPREFIX": str(prefix), **code_under_test_env()}

    def start() -> Path:
        run = subprocess.run(
            [sys.executable, "-c", probe, str(rule)],
            env=env,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )
        assert run.returncode == 0, run.stderr
        status, path = run.stdout.split()[-2:]
        assert status == "0"
        return Path(path)

    kept = start()
    assert kept.is_relative_to(prefix)
    header, code = marshal.loads(kept.read_bytes())
    assert header == HEADER and len(code) > 50  # the manifest models' dataclasses and the validator's
    written = kept.stat()
    assert start() == kept and kept.stat().st_ino == written.st_ino
