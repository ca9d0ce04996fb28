"""Versioned schema: user_version, migrations in one transaction, integrity check on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.outbox import schema
from agent.outbox.config import Durability
from agent.outbox.errors import OutboxCorrupt


def test_fresh_database_gets_current_schema_in_wal(tmp_path: Path) -> None:
    conn, found = schema.open_database(tmp_path / "o.db", Durability.POWER_SAFE)
    try:
        assert found == 0
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert indexes == {"records_lane"}  # v2: partial lane index only (ingest speed)
        [lane_sql] = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'records_lane'").fetchone()
        assert "WHERE priority < 2" in lane_sql
    finally:
        conn.close()
    conn, found = schema.open_database(tmp_path / "o.db", Durability.PROCESS_SAFE)
    try:
        assert found == schema.SCHEMA_VERSION  # reopened: nothing to migrate
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        conn.close()


def test_failed_migration_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = schema._script(1)
    monkeypatch.setattr(schema, "_script", lambda v: good + "\nCREATE TABLE broken (;\n")
    conn = schema.connect(tmp_path / "o.db", Durability.PROCESS_SAFE)
    try:
        with pytest.raises(sqlite3.OperationalError):
            schema.migrate(conn)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    finally:
        conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "o.db")
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(OutboxCorrupt, match="newer"):
        schema.open_database(tmp_path / "o.db", Durability.POWER_SAFE)


def test_damaged_pages_fail_the_integrity_check(tmp_path: Path) -> None:
    conn, _ = schema.open_database(tmp_path / "o.db", Durability.PROCESS_SAFE)
    conn.executemany(
        "INSERT INTO records VALUES (?,?,?,?,?,?,?)", [(i, 2, 0, "d", 1.0, 1.0, "[]" * 100) for i in range(1, 3000)]
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray((tmp_path / "o.db").read_bytes())
    for page in range(4, 30):
        data[page * 4096 + 8 : page * 4096 + 40] = b"\x7f" * 32
    (tmp_path / "o.db").write_bytes(bytes(data))
    with pytest.raises((OutboxCorrupt, sqlite3.DatabaseError)):
        schema.open_database(tmp_path / "o.db", Durability.PROCESS_SAFE)
