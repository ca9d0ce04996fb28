"""Keeping the outbox within its size and age limits, on the writer thread.

The limit covers everything the outbox puts on the disk: live pages, the WAL, the shm and a
reserve file. Eviction runs in small rounds (one transaction and one gap event per device each)
so a round's WAL stays small. SQLITE_FULL teaches the keeper the disk's real size.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path

from agent.errors import OutboxError
from agent.logs import RateLimiter, log_event, log_limited
from agent.outbox import bounds
from agent.outbox.codec import INSERT_SQL
from agent.outbox.config import FullPolicy, OutboxConfig
from agent.outbox.files import Ballast, files_size, size_limit
from agent.outbox.seqs import SeqAllocator
from agent.records import Priority

log = logging.getLogger("agent.outbox")

MIN_LIMIT = 64 * 1024
EVICT_TARGET = 0.9  # evict down to this share of the budget, so eviction does not run on every commit
ROUND_SHARE = 50  # one eviction round takes at most 1/50 of the rows
_NONE: frozenset[int] = frozenset()
_TELEMETRY: frozenset[int] = frozenset({int(Priority.TELEMETRY)})
_ALL: frozenset[int] = frozenset(int(p) for p in Priority)


class SpaceKeeper:
    def __init__(self, db: Path, config: OutboxConfig, seqs: SeqAllocator, clock: Callable[[], float]) -> None:
        self.db = db
        self.config = config
        self.seqs = seqs
        self.clock = clock
        self.max_bytes = config.max_bytes or config.hard_cap_bytes
        self.used = 0
        self.rows = 0
        self.evicted_total = 0
        self.expired_total = 0
        self.ballast = Ballast(db.with_name("outbox.reserve"), 0)
        self._wal_budget = 0
        self._tight = False  # the disk ran full once: checkpoint after every eviction round
        self._last_expiry = 0.0
        self._last_ballast_try = 0.0
        self._limiter = RateLimiter(60.0)

    def measure_disk(self) -> None:
        c = self.config
        self.max_bytes = size_limit(self.db, c.max_bytes, c.max_fraction_of_free_disk, c.hard_cap_bytes)

    def size_wal(self, conn: sqlite3.Connection) -> None:
        """Scale the WAL and the reserve to the limit: on a tiny disk they must fit too."""
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        self._wal_budget = max(64 * 1024, min(8 << 20, self.max_bytes // 10))
        conn.execute(f"PRAGMA wal_autocheckpoint={max(16, min(1000, self._wal_budget // page_size))}")
        conn.execute(f"PRAGMA journal_size_limit={self._wal_budget}")
        # The reserve must hold a checkpoint's growth of the file, up to a whole WAL of new pages
        # (appends to the rowid table fill the WAL with new pages, not rewrites of old ones).
        self.ballast.size = max(64 * 1024, min(16 << 20, self.max_bytes // 20), self._wal_budget)

    @property
    def page_budget(self) -> int:
        """Bytes the live pages may use once the WAL, the shm and the reserve are counted."""
        return max(MIN_LIMIT, self.max_bytes - self._wal_budget - self.ballast.size - 32 * 1024)

    @property
    def telemetry_budget(self) -> int:
        """reject-new: telemetry stops here; the rest of the page budget is the alarm/event reserve."""
        return int(self.page_budget * (1 - self.config.reserve_share))

    def refused_lanes(self) -> frozenset[int]:
        """The lanes reject-new refuses at the current size: telemetry once past its budget, then
        events and alarms once the reserve is used up too. Empty under evict-oldest-telemetry."""
        if self.config.full_policy is not FullPolicy.REJECT_NEW or self.used < self.telemetry_budget:
            return _NONE
        return _TELEMETRY if self.used < self.page_budget else _ALL

    def housekeeping(self, conn: sqlite3.Connection, now: float) -> None:
        """Size bound, TTL expiry, reserve file. Raises sqlite3.Error for the engine to classify."""
        self.used = bounds.used_bytes(conn)
        if self.used > self.page_budget and self.config.full_policy is FullPolicy.EVICT_OLDEST_TELEMETRY:
            self.evict_rounds(conn, int(self.page_budget * EVICT_TARGET))
        if now - self._last_expiry >= self.config.expiry_interval_s:
            self._last_expiry = now
            self.expire(conn, now)
        if not self.ballast.present and now - self._last_ballast_try >= self.config.degraded_retry_s:
            self._restore_ballast(now)

    def _restore_ballast(self, now: float) -> None:
        self._last_ballast_try = now
        if self.used > self.page_budget * EVICT_TARGET:
            return
        try:
            self.ballast.ensure()
        except OSError as exc:
            log_limited(self._limiter, log, "ballast", "outbox_reserve_unavailable", error=str(exc))

    def make_room(self, conn: sqlite3.Connection) -> bool:
        """SQLITE_FULL: the disk is smaller than the limit thought. Free the reserve, checkpoint,
        shrink the limit to what we held when the disk ran full, evict. True if a retry may work."""
        if self.config.full_policy is FullPolicy.REJECT_NEW:
            return False
        self._tight = True
        occupied = files_size(self.db) + (self.ballast.size if self.ballast.present else 0)
        freed = self.ballast.release()
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            freed = True
        except sqlite3.Error as exc:  # no room to checkpoint: evict anyway, the WAL may still fit
            log_limited(self._limiter, log, "checkpoint", "outbox_checkpoint_failed", error=str(exc))
        self.max_bytes = max(MIN_LIMIT, min(self.max_bytes, int(occupied * EVICT_TARGET)))
        try:
            self.size_wal(conn)
            log_event(log, "outbox_disk_full", logging.WARNING, occupied=occupied, new_limit=self.max_bytes)
            return self.evict_rounds(conn, int(self.page_budget * EVICT_TARGET)) > 0 or freed
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log_limited(self._limiter, log, "make_room", "outbox_evict_failed", error=str(exc))
            return False

    def evict_rounds(self, conn: sqlite3.Connection, target: int) -> int:
        chunk, evicted = max(1, self.rows // ROUND_SHARE), 0
        for _ in range(4 * ROUND_SHARE):
            step = self._evict_round(conn, target, chunk)
            if self._tight:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            evicted += step
            if step == 0 or self.used <= target:
                break
        return evicted

    def _evict_round(self, conn: sqlite3.Connection, target: int, max_rows: int) -> int:
        """One transaction: evict by policy (at most ``max_rows``) toward ``target``, with gap events."""
        conn.execute("BEGIN IMMEDIATE")
        gaps: list[bounds.Gap] = []
        used, rows, budget = bounds.used_bytes(conn), self.rows, max_rows
        while used > target and rows > 0 and budget > 0:
            count = min(budget, max(1, math.ceil((used - target) / (used / rows))))
            budget -= count
            step = bounds.evict(conn, count)
            if not step:
                break
            gaps.extend(step)
            rows -= sum(g.count for g in step)
            used = bounds.used_bytes(conn)
        evicted = sum(g.count for g in gaps)
        added = self._insert_gap_events(conn, gaps, "evicted", "evicted_total", self.evicted_total + evicted)
        conn.execute("COMMIT")
        self.rows = rows + added
        self.evicted_total += evicted
        self.used = bounds.used_bytes(conn)
        if evicted:
            log_event(log, "outbox_evicted", logging.WARNING, count=evicted, used=self.used, budget=self.page_budget)
        return evicted

    def _insert_gap_events(
        self,
        conn: sqlite3.Connection,
        gaps: list[bounds.Gap],
        reason: bounds.GapReason,
        counter: str | None = None,
        total: int = 0,
    ) -> int:
        """Store one gap event per device (same transaction as the removal); returns rows added."""
        if not gaps:
            return 0
        rows = self.seqs.rows_for(bounds.gap_events(gaps, reason, self.clock()))
        conn.executemany(INSERT_SQL, rows)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (self.seqs.last_seq,))
        if counter is not None:
            conn.execute("UPDATE meta SET value = ? WHERE key = ?", (total, counter))
        return len(rows)

    def expire(self, conn: sqlite3.Connection, now: float) -> None:
        conn.execute("BEGIN IMMEDIATE")
        gaps = bounds.expire(conn, now - self.config.ttl_s)
        expired = sum(g.count for g in gaps)
        added = self._insert_gap_events(conn, gaps, "expired", "expired_total", self.expired_total + expired)
        conn.execute("COMMIT")
        if expired:
            self.expired_total += expired
            self.rows += added - expired
            log_event(log, "outbox_expired", logging.WARNING, count=expired, ttl_s=self.config.ttl_s)

    def purge(self, conn: sqlite3.Connection, device: str | None, before: float | None) -> int:
        try:
            conn.execute("BEGIN IMMEDIATE")
            gaps = bounds.purge(conn, device, before)
            purged = sum(g.count for g in gaps)
            added = self._insert_gap_events(conn, gaps, "purged")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise OutboxError(f"purge failed: {exc}") from exc
        self.rows += added - purged
        log_event(log, "outbox_purged", logging.WARNING, device=device, before=before, count=purged)
        return purged
