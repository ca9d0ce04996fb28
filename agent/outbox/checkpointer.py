"""WAL checkpoints off the commit path: a thread with its own connection runs PASSIVE checkpoints.

SQLite's auto-checkpoint runs inside the COMMIT that crosses the threshold, so the accepts of that
commit waited for a checkpoint (copy + fsync of the database file): the live-latency tail. Here a
separate thread backfills the WAL shortly after commits, concurrently with the writer (WAL allows
it); the writer's auto-checkpoint stays as the bound on the WAL's size, and when it does trigger it
finds the frames already copied. A failed checkpoint is only logged: the writer owns disk failures.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from agent.logs import RateLimiter, log_limited
from agent.outbox.config import Durability
from agent.outbox.engine import OutboxEngine

log = logging.getLogger("agent.outbox")

INTERVAL_S = 0.1  # at most this often: each checkpoint costs an fsync of the database file


class Checkpointer:
    def __init__(self, engine: OutboxEngine, interval_s: float = INTERVAL_S) -> None:
        self._engine = engine
        self._interval = interval_s
        self._kick = threading.Event()
        self._stopping = False
        self._conn: sqlite3.Connection | None = None
        self._generation = -1
        self._limiter = RateLimiter(60.0)
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._run, name="outbox-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        """Something was committed (called by the writer thread; cheap)."""
        self._kick.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping = True
        self._kick.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                self._kick.wait()
                if self._stopping:
                    return
                self._kick.clear()
                self._checkpoint()
                time.sleep(self._interval)  # commits meanwhile just set the event again
        finally:
            self._close()

    def _connection(self) -> sqlite3.Connection | None:
        engine = self._engine
        if engine.degraded is not None or engine.conn is None:
            self._close()  # the file may be gone or read-only: the writer recovers it
            return None
        if self._conn is None or self._generation != engine.generation:
            self._close()
            generation = engine.generation
            # mode=rw: never create the file (the writer may be replacing a corrupt one right now)
            conn = sqlite3.connect(f"file:{engine.path}?mode=rw", uri=True, isolation_level=None)
            sync = "FULL" if engine.config.durability is Durability.POWER_SAFE else "NORMAL"
            conn.execute(f"PRAGMA synchronous={sync}")  # the checkpoint's fsyncs follow this connection's level
            self._conn, self._generation = conn, generation
        return self._conn

    def _checkpoint(self) -> None:
        try:
            conn = self._connection()
            if conn is not None:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
        except sqlite3.Error as exc:
            self._close()
            log_limited(self._limiter, log, "checkpoint", "outbox_background_checkpoint_failed", error=str(exc))

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
