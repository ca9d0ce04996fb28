"""Open the outbox database: pragmas, versioned schema, migrations, integrity check."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

from agent.outbox.config import Durability
from agent.outbox.errors import OutboxCorrupt
from agent.private_files import touch_private

SCHEMA_VERSION = 2
# scripts that bring a database from version N-1 to N; version 0 is an empty file
_SCRIPTS = {1: "schema_v1.sql", 2: "schema_v2.sql"}


def lane_clause(priority: int) -> str:
    """SQL selecting one lane. Literals, with the partial index's own condition spelled out for
    alarms and events: SQLite uses a partial index only when the query repeats its WHERE term."""
    if priority < 2:
        return f"priority = {int(priority):d} AND priority < 2"
    return f"priority = {int(priority):d}"  # telemetry: no index, read in rowid (seq) order


def _script(version: int) -> str:
    return resources.files("agent.outbox.schemas").joinpath(_SCRIPTS[version]).read_text("utf-8")


def connect(path: Path, durability: Durability, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (explicit BEGIN/COMMIT), WAL, the durability's synchronous level."""
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    else:
        touch_private(path)  # 0640 whatever the umask; SQLite gives -wal/-shm the database's mode
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    sync = "FULL" if durability is Durability.POWER_SAFE else "NORMAL"
    conn.execute(f"PRAGMA synchronous={sync}")
    conn.execute("PRAGMA cache_size=-8000")  # 8 MiB: memory stays flat whatever the backlog
    if not read_only:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"journal_mode WAL refused (got {mode})")
        conn.execute("PRAGMA journal_size_limit=8388608")  # truncate the WAL after checkpoints
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """For reading when the file cannot be written: normal read-only, else ``immutable`` (no -shm
    needed, as on a read-only filesystem). Probed, so a useless connection is never returned."""
    last: sqlite3.Error | None = None
    for uri in (f"file:{path}?mode=ro", f"file:{path}?mode=ro&immutable=1"):
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            conn.close()
            last = exc
            continue
        conn.execute("PRAGMA cache_size=-8000")
        return conn
    assert last is not None
    raise last


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; returns the version found."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise OutboxCorrupt(f"outbox schema version {found} is newer than this agent ({SCHEMA_VERSION})")
    if found == SCHEMA_VERSION:
        return found
    body = "".join(_script(v) for v in range(found + 1, SCHEMA_VERSION + 1))
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{body}\nPRAGMA user_version={SCHEMA_VERSION};\nCOMMIT;")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found


def check_integrity(conn: sqlite3.Connection) -> None:
    """quick_check (O(n) but no index cross-check); raises OutboxCorrupt on any finding."""
    rows = conn.execute("PRAGMA quick_check").fetchall()
    if [r[0] for r in rows] != ["ok"]:
        raise OutboxCorrupt("; ".join(str(r[0]) for r in rows[:5]))


def open_database(path: Path, durability: Durability, check: bool = True) -> tuple[sqlite3.Connection, int]:
    """Open for writing, migrate, check (``check``; see integrity.py for when not); returns the
    connection and the schema version found."""
    conn = connect(path, durability)
    try:
        found = migrate(conn)
        if found and check:
            check_integrity(conn)
    except (sqlite3.Error, OutboxCorrupt):
        conn.close()
        raise
    return conn, found
