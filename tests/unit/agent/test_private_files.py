"""The state-dir mode convention holds under any umask, without the daemon's own umask."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.private_files import (
    DIR_MODE,
    FILE_MODE,
    private_dir,
    secure_state_dir,
    touch_private,
    write_private,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True, params=[0o000, 0o022, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield int(request.param)
    finally:
        os.umask(old)


def test_private_dir_creates_every_missing_level_0750(tmp_path: Path) -> None:
    target = private_dir(tmp_path / "a" / "b")
    assert [mode(tmp_path / "a"), mode(target)] == [DIR_MODE, DIR_MODE]
    os.chmod(target, 0o700)
    private_dir(target)  # an existing dir is left as it is
    assert mode(target) == 0o700


def test_write_private_is_0640_and_tightens_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "d" / "f.json"
    write_private(path, b"1")
    assert mode(path) == FILE_MODE and mode(path.parent) == DIR_MODE
    os.chmod(path, 0o666)
    write_private(path, b"2", durable=True)
    assert mode(path) == FILE_MODE and path.read_bytes() == b"2"
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]  # no temp file left


def test_sqlite_side_files_take_the_database_mode(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    touch_private(db)
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (v)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
            "x.db": FILE_MODE, "x.db-wal": FILE_MODE, "x.db-shm": FILE_MODE
        }
    finally:
        conn.close()


def test_secure_state_dir_tightens_once_and_leaves_sockets_and_links(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    (state / "sub").mkdir(parents=True)
    (state / "data").write_text("x")
    (state / "private").write_text("x")
    os.chmod(state / "private", 0o600)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(state / "control.sock"))
    os.chmod(state / "control.sock", 0o660)
    (state / "link").symlink_to("/etc/hostname")
    for path, bits in ((state, 0o777), (state / "sub", 0o775), (state / "data", 0o666)):
        os.chmod(path, bits)
    try:
        with caplog.at_level(logging.INFO, logger="agent.private_files"):
            secure_state_dir(state)
            secure_state_dir(state)  # nothing left to change: no second line
    finally:
        sock.close()
    assert [mode(state), mode(state / "sub"), mode(state / "data")] == [0o750, 0o750, 0o640]
    assert mode(state / "private") == 0o600 and mode(state / "control.sock") == 0o660
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "dir_mode_was=0777" in lines[0] and "entries_changed=3" in lines[0], lines


def test_secure_state_dir_creates_a_missing_one_silently(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        secure_state_dir(tmp_path / "new" / "state")
    assert mode(tmp_path / "new" / "state") == DIR_MODE and not caplog.records
