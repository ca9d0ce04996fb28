"""The read side: its own connection (WAL lets it read while the writer commits), on one thread.

Results from the database are merged with the degraded-mode spill and filtered by tombstones,
so the uplink sees one consistent outbox whatever state the disk is in.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from agent.logs import RateLimiter, log_limited
from agent.outbox.api import OutboxStats, StoredRecord
from agent.outbox.codec import COLUMNS, decode_many
from agent.outbox.engine import OutboxEngine
from agent.outbox.files import files_size
from agent.outbox.schema import connect_read_only, lane_clause
from agent.outbox.timeline import first_seq_accepted_at_or_after
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

    def _query(self, sql: str, params: tuple[Any, ...], max_body_bytes: int | None = None) -> list[tuple[Any, ...]]:
        """All rows, or (with ``max_body_bytes``) the leading rows whose last column stays within the budget.

        The budget keeps a page of camera snapshots (each ~100 kB of base64) from landing in memory at once;
        at least one row is always returned.
        """
        conn = self._connection()
        if conn is None:
            return []
        try:
            cursor = conn.execute(sql, params)
            if max_body_bytes is None:
                return cursor.fetchall()
            rows: list[tuple[Any, ...]] = []
            total = 0
            while chunk := cursor.fetchmany(256):
                for row in chunk:
                    total += len(row[-1])
                    if rows and total > max_body_bytes:
                        cursor.close()
                        return rows
                    rows.append(row)
            return rows
        except sqlite3.Error as exc:  # the writer deals with the file; readers just see nothing
            log_limited(self._limiter, log, "reader_query", "outbox_read_failed", error=str(exc))
            self.close()
            return []

    def _first_seq_accepted_at_or_after(self, t: float, low: int) -> int | None:
        """accepted_at never decreases with seq, so a time boundary is a seq boundary (rowid bisection)."""
        conn = self._connection()
        if conn is None:
            return None
        try:
            return first_seq_accepted_at_or_after(conn, t, low)
        except sqlite3.Error as exc:
            log_limited(self._limiter, log, "reader_query", "outbox_read_failed", error=str(exc))
            self.close()
            return None

    def fetch(
        self,
        limit: int,
        after_seq: int,
        priority: Priority | None,
        since: float | None,
        before: float | None,
        device: str | None = None,
        max_body_bytes: int | None = None,
    ) -> list[StoredRecord]:
        lane = None if priority is None else int(priority)
        lower, upper = after_seq, None
        clauses: list[str] = []
        params: list[object] = []
        rows: list[tuple[Any, ...]] = []
        skip_db = False
        # time windows become seq ranges (a rowid bisection each), so a live fetch never scans the backlog
        if since is not None:
            first = self._first_seq_accepted_at_or_after(since, after_seq + 1)
            skip_db = first is None
            lower = max(lower, (first or 0) - 1)
            clauses.append("accepted_at >= ?")
            params.append(since)
        if before is not None:
            upper = self._first_seq_accepted_at_or_after(before, after_seq + 1)
            clauses.append("accepted_at < ?")
            params.append(before)
        clauses.insert(0, "seq > ?" if upper is None else "seq > ? AND seq < ?")
        params[:0] = [lower] if upper is None else [lower, upper]
        if lane is not None:
            clauses.append(lane_clause(lane))
        if device is not None:
            clauses.append("device = ?")
            params.append(device)
        if not skip_db:
            sql = f"SELECT {COLUMNS} FROM records WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?"
            rows = self._query(sql, (*params, limit), max_body_bytes)
        cut_at = rows[-1][0] if max_body_bytes is not None and rows and len(rows) < limit else None
        engine = self._engine
        spilled: list[tuple[Any, ...]] = []
        if len(engine.spill):
            spilled = list(engine.spill.select(limit, after_seq, lane, since, before))
            if device is not None:
                spilled = [r for r in spilled if r[3] == device]
            if cut_at is not None:  # never hand out a seq past rows the budget left unread
                spilled = [r for r in spilled if r[0] < cut_at]
        tombstones = engine.tombstones
        if tombstones:
            rows = [r for r in rows if not tombstones.contains(r[0])]
            spilled = [r for r in spilled if not tombstones.contains(r[0])]
        if not spilled:
            return decode_many(rows)
        # spilled rows are flagged: acknowledged, but only in RAM (seqs never overlap the file's)
        merged = [*decode_many(rows), *decode_many(spilled, ram=True)]
        merged.sort(key=lambda r: r.seq)
        return merged[:limit]

    def stats(self) -> OutboxStats:
        engine = self._engine
        by_priority: dict[str, int] = {}
        oldest: list[float] = []
        for p in Priority:
            # alarm and event counts use the partial lane index; telemetry scans the table
            rows = self._query(f"SELECT COUNT(*) FROM records WHERE {lane_clause(p)}", ())
            by_priority[p.name.lower()] = int(rows[0][0]) if rows else 0
            first = self._query(f"SELECT ts FROM records WHERE {lane_clause(p)} ORDER BY seq LIMIT 1", ())
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
            rejected_total=engine.rejections.total,
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
