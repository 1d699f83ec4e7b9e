"""A data dir is held by servers (shared, several at once) or by one offline command, never both."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from tests.gateway.conftest import holding_data_dir
from tests.helpers import SUBPROCESS_TIMEOUT_S
from tfy_gateway.gateway import dir_lock
from tfy_gateway.gateway.dir_lock import DataDirBusy, DataDirLock, DataDirServed, owner_of, try_exclusive


def test_no_server_no_owner_and_an_offline_command_gets_the_dir(tmp_path: Path) -> None:
    assert owner_of(tmp_path) is None
    with try_exclusive(tmp_path):
        assert owner_of(tmp_path) is None, "an offline command is not a server"
    assert owner_of(tmp_path) is None
    with try_exclusive(tmp_path):  # released on exit: the next one gets it too
        pass


def test_servers_share_the_dir_and_the_offline_command_is_refused_with_pid_and_address(tmp_path: Path) -> None:
    with holding_data_dir(tmp_path) as first, holding_data_dir(tmp_path, "http://127.0.0.1:9999") as second:
        assert owner_of(tmp_path) in (first.pid, second.pid)
        with pytest.raises(DataDirServed) as refused, try_exclusive(tmp_path):
            pass
        assert refused.value.pid in (first.pid, second.pid) and refused.value.address == "http://127.0.0.1:9999"
        assert f"a gateway is serving {tmp_path} (pid {refused.value.pid})" == str(refused.value)
        first.kill()  # a crash releases its hold; the other server still holds the dir
        first.wait(timeout=SUBPROCESS_TIMEOUT_S)
        assert owner_of(tmp_path) is not None
        with pytest.raises(DataDirServed), try_exclusive(tmp_path):
            pass
    assert owner_of(tmp_path) is None
    with try_exclusive(tmp_path):
        pass


def test_two_offline_commands_exclude_each_other(tmp_path: Path) -> None:
    with try_exclusive(tmp_path):
        with pytest.raises(DataDirBusy) as busy, try_exclusive(tmp_path):
            pass
        assert not isinstance(busy.value, DataDirServed)
        assert busy.value.pid == os.getpid() and "another offline command" in str(busy.value)


def test_a_server_starting_during_an_offline_write_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = contextlib.ExitStack()
    offline.enter_context(try_exclusive(tmp_path))
    waits: list[None] = []

    def pause() -> None:
        waits.append(None)
        offline.close()  # the offline command finishes while the server waits

    monkeypatch.setattr(dir_lock, "_pause", pause)
    with DataDirLock(tmp_path, timeout=SUBPROCESS_TIMEOUT_S) as lock:
        assert lock.held and len(waits) == 1
        with pytest.raises(DataDirServed), try_exclusive(tmp_path):
            pass
    assert not lock.held and owner_of(tmp_path) is None


def test_a_server_gives_up_after_its_timeout_naming_the_offline_command(tmp_path: Path) -> None:
    with try_exclusive(tmp_path), pytest.raises(DataDirBusy) as busy:
        DataDirLock(tmp_path, timeout=0).acquire()
    pid = os.getpid()
    assert busy.value.pid == pid and f"(pid {pid})" in str(busy.value) and "server.lock" in str(busy.value)
    with DataDirLock(tmp_path, timeout=0):  # nothing left behind by the failed attempt
        assert owner_of(tmp_path) == pid
