"""Read the outbox file without opening it as an Outbox: a read-only SQLite connection, safe beside
a running daemon (no writer thread, no expiry, no corrupt-file recovery from a second process)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from agent.cli.exit_codes import CliError, ExitCode
from agent.errors import OutboxError
from agent.outbox.api import StoredRecord
from agent.outbox.codec import COLUMNS, decode_many

DB_NAME = "outbox.db"  # agent/outbox/engine.py


def record_pages(state_dir: Path, page: int = 2000) -> Iterator[list[StoredRecord]]:
    """Every stored record in seq order, ``page`` at a time; never the whole table in memory."""
    db = state_dir / DB_NAME
    if not db.is_file():
        raise CliError(f"no outbox at {db}", ExitCode.FAILED)
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise OutboxError(f"{db}: {exc}") from None
    query = f"SELECT {COLUMNS} FROM records WHERE seq > ? ORDER BY seq LIMIT ?"
    try:
        after = 0
        while rows := conn.execute(query, (after, page)).fetchall():
            records = decode_many(rows)
            yield records
            after = records[-1].seq
    except sqlite3.Error as exc:
        raise OutboxError(f"{db}: {exc}") from None
    finally:
        conn.close()
