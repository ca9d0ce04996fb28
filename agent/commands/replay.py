"""Durable memory of command ids and their answers, so a command runs at most once even across restarts.

A small SQLite table in the state directory. The first message with an id claims it; the answer is
stored with it once the command ran, so a retry of the same id gets that answer again instead of a
second execution. ``queued`` says whether the answer reached the outbox: an answer stored but not
queued (the agent died in between) is queued again at the next start. An id needs remembering only
until its command expires (an expired command is refused anyway), so expired ids are pruned once
their answer is queued; at most ``window`` ids are kept.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
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
# Added after the first release: a store written by an older agent gains them on open.
ADDED_COLUMNS = {"answer": "TEXT", "queued": "INTEGER NOT NULL DEFAULT 1"}
_PRUNABLE = "(answer IS NULL OR queued = 1)"


@dataclass(frozen=True, slots=True)
class Prior:
    """What the store knows of an id seen before: its answer (JSON), or None if it never got one."""

    answer: bytes | None


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
            present = {row[1] for row in self._db.execute("PRAGMA table_info(command_ids)")}
            for column, decl in ADDED_COLUMNS.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE command_ids ADD COLUMN {column} {decl}")
        except sqlite3.Error as exc:
            raise CommandError("replay_store", f"cannot open command id store {path}: {exc}") from None

    def claim(self, command_id: str, expires_at: float, now: float) -> Prior | None:
        """Record ``command_id``: None when it is new (run it), its ``Prior`` when seen before.

        Durable before returning, so a command is never run twice, even across a crash."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "INSERT INTO command_ids (id, expires_at, seen_at, answer, queued) VALUES (?, ?, ?, NULL, 0)",
                        (command_id, expires_at, now),
                    )
                except sqlite3.IntegrityError:
                    row = self._db.execute("SELECT answer FROM command_ids WHERE id = ?", (command_id,)).fetchone()
                    self._db.execute("ROLLBACK")
                    answer = row[0] if row is not None else None
                    return Prior(answer.encode() if isinstance(answer, str) else None)
                self._db.execute(f"DELETE FROM command_ids WHERE expires_at < ? AND {_PRUNABLE}", (now,))
                self._db.execute(
                    f"DELETE FROM command_ids WHERE rowid IN (SELECT rowid FROM command_ids WHERE {_PRUNABLE} "
                    "ORDER BY seen_at DESC LIMIT -1 OFFSET ?)",
                    (self.window,),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise CommandError("replay_store", f"command id store failed: {exc}") from None
            return None

    def remember(self, command_id: str, expires_at: float, now: float) -> bool:
        """True when ``command_id`` is new; False for a replay."""
        return self.claim(command_id, expires_at, now) is None

    def store_answer(self, command_id: str, expires_at: float, now: float, answer: bytes) -> None:
        """Keep the answer of a command that ran (not yet queued for the uplink)."""
        self._write(
            "INSERT INTO command_ids (id, expires_at, seen_at, answer, queued) VALUES (?, ?, ?, ?, 0) "
            "ON CONFLICT (id) DO UPDATE SET answer = excluded.answer, queued = 0",
            (command_id, expires_at, now, answer.decode()),
        )

    def mark_queued(self, command_id: str, answer: bytes) -> None:
        """The stored answer of ``command_id`` is in the outbox (only if ``answer`` is that one)."""
        self._write("UPDATE command_ids SET queued = 1 WHERE id = ? AND answer = ?", (command_id, answer.decode()))

    def unqueued(self) -> list[tuple[str, bytes]]:
        """(id, answer) of answers stored but never handed to the outbox, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, answer FROM command_ids WHERE answer IS NOT NULL AND queued = 0 ORDER BY seen_at"
            ).fetchall()
        return [(str(i), str(a).encode()) for i, a in rows]

    def count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM command_ids").fetchone()
            return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.Error as exc:
                raise CommandError("replay_store", f"command id store failed: {exc}") from None

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
