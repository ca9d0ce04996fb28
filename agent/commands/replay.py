"""Durable memory of command ids, so a replayed command is refused even after a restart.

A small SQLite table in the state directory. An id needs remembering only until its command expires
(an expired command is refused anyway), so expired ids are pruned; at most ``window`` ids are kept.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from agent.errors import CommandError
from agent.private_files import private_dir, touch_private

SCHEMA = """
CREATE TABLE IF NOT EXISTS command_ids (
    id TEXT PRIMARY KEY,
    expires_at REAL NOT NULL,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS command_ids_expiry ON command_ids (expires_at);
"""


class ReplayGuard:
    """Blocking API: call it from a worker thread (``asyncio.to_thread``)."""

    def __init__(self, path: Path, window: int) -> None:
        self.path = path
        self.window = window
        self._lock = threading.Lock()
        try:
            private_dir(path.parent)
            touch_private(path)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise CommandError("replay_store", f"cannot open command id store {path}: {exc}") from None

    def remember(self, command_id: str, expires_at: float, now: float) -> bool:
        """Record ``command_id``; False if it was already seen (a replay). Durable before returning."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "INSERT INTO command_ids (id, expires_at, seen_at) VALUES (?, ?, ?)",
                        (command_id, expires_at, now),
                    )
                except sqlite3.IntegrityError:
                    self._db.execute("ROLLBACK")
                    return False
                self._db.execute("DELETE FROM command_ids WHERE expires_at < ?", (now,))
                self._db.execute(
                    "DELETE FROM command_ids WHERE rowid IN (SELECT rowid FROM command_ids "
                    "ORDER BY seen_at DESC LIMIT -1 OFFSET ?)",
                    (self.window,),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise CommandError("replay_store", f"command id store failed: {exc}") from None
            return True

    def count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM command_ids").fetchone()
            return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
