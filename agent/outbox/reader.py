"""The read side: its own connection (WAL lets it read while the writer commits), on one thread.

Results from the database are merged with the degraded-mode spill and filtered by tombstones,
so the uplink sees one consistent outbox whatever state the disk is in.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

from agent.logs import RateLimiter, log_limited
from agent.outbox.api import OutboxStats, StoredRecord
from agent.outbox.codec import COLUMNS, decode
from agent.outbox.engine import OutboxEngine
from agent.outbox.files import files_size
from agent.outbox.schema import connect_read_only
from agent.records import Priority

log = logging.getLogger("agent.outbox")


class OutboxReaderDb:
    """Every method runs on the reader thread."""

    def __init__(self, engine: OutboxEngine) -> None:
        self._engine = engine
        self._conn: sqlite3.Connection | None = None
        self._generation = -1
        self._limiter = RateLimiter(60.0)

    def _connection(self) -> sqlite3.Connection | None:
        engine = self._engine
        if self._conn is not None and self._generation == engine.generation:
            return self._conn
        self.close()
        try:
            if engine.degraded is None:
                conn = sqlite3.connect(engine.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA cache_size=-8000")
                conn.execute("PRAGMA query_only=1")
            else:
                conn = connect_read_only(engine.path)
        except sqlite3.Error as exc:
            log_limited(self._limiter, log, "reader_open", "outbox_reader_unavailable", error=str(exc))
            return None
        self._conn, self._generation = conn, engine.generation
        return conn

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = self._connection()
        if conn is None:
            return []
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:  # the writer deals with the file; readers just see nothing
            log_limited(self._limiter, log, "reader_query", "outbox_read_failed", error=str(exc))
            self.close()
            return []

    def fetch(
        self,
        limit: int,
        after_seq: int,
        priority: Priority | None,
        since: float | None,
        before: float | None,
        device: str | None = None,
    ) -> list[StoredRecord]:
        clauses, params = ["seq > ?"], [after_seq]
        lane = None if priority is None else int(priority)
        for clause, value in (
            ("priority = ?", lane),
            ("accepted_at >= ?", since),
            ("accepted_at < ?", before),
            ("device = ?", device),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)  # type: ignore[arg-type]
        sql = f"SELECT {COLUMNS} FROM records WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?"
        rows = self._query(sql, (*params, limit))
        engine = self._engine
        if len(engine.spill):
            spilled = engine.spill.select(limit, after_seq, lane, since, before)
            if device is not None:
                spilled = [r for r in spilled if r[3] == device]
            rows = sorted([*rows, *spilled], key=lambda r: r[0])[:limit]
        tombstones = engine.tombstones
        if tombstones:
            rows = [r for r in rows if not tombstones.contains(r[0])]
        return [decode(r) for r in rows]

    def export(
        self, device: str | None, since: float | None, before: float | None, page: int
    ) -> Iterator[list[StoredRecord]]:
        after = 0
        while True:
            batch = self.fetch(page, after, None, since, before, device)
            if not batch:
                return
            yield batch
            after = batch[-1].seq

    def stats(self) -> OutboxStats:
        engine = self._engine
        by_priority: dict[str, int] = {}
        oldest: list[float] = []
        for p in Priority:
            rows = self._query("SELECT COUNT(*) FROM records WHERE priority = ?", (int(p),))
            by_priority[p.name.lower()] = int(rows[0][0]) if rows else 0
            first = self._query("SELECT ts FROM records WHERE priority = ? ORDER BY seq LIMIT 1", (int(p),))
            if first:
                oldest.append(float(first[0][0]))
        spilled = engine.spill.take_all()
        for row in spilled:
            name = Priority(row[1]).name.lower()
            by_priority[name] += 1
        if spilled:
            oldest.append(min(r[4] for r in spilled))
        return OutboxStats(
            records=sum(by_priority.values()),
            by_priority=by_priority,
            oldest_ts=min(oldest) if oldest else None,
            bytes_on_disk=files_size(engine.path),
            max_bytes=engine.max_bytes,
            evicted_total=engine.evicted_total,
            expired_total=engine.expired_total,
            last_seq=engine.last_seq,
            degraded=engine.degraded,
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
