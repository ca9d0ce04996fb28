"""Keeping the outbox within its size and age limits, on the writer thread.

The limit covers everything the outbox puts on the disk: live pages, the WAL, the shm and a
reserve file. SQLITE_FULL teaches the keeper the disk's real size.

Eviction and expiry run in bounded steps (one transaction, one gap event per device each), one step
per housekeeping call: the writer thread commits waiting accepts between two steps, so a big
eviction (10 % of a 2 GiB outbox is millions of rows; on a slow SD card minutes of deleting) never
holds an accept long enough to look like a hung outbox to the watchdog (``accept_stall_s``). A step's
size adapts to the disk: it aims at ``STEP_TARGET_S`` (``bench/bench_eviction.py`` measures it).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
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
# One eviction or expiry step: about what an accept may wait for it (far below accept_stall_s). Not
# smaller: every step stores one gap event per device, so many tiny steps would flood upstream.
STEP_TARGET_S = 1.0
STEP_MIN_ROWS, STEP_START_ROWS, STEP_MAX_ROWS = 2_000, 20_000, 1_000_000
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
        self._tight = False  # the disk ran full once: checkpoint after every eviction step
        self._evicting = False  # over the budget: steps go on until the target (EVICT_TARGET) is reached
        self._reached = False  # the last eviction step's deletes got down to the target
        self._expiring = False  # an expiry pass has more steps to go
        self.step_rows = STEP_START_ROWS  # rows per step, adapted to how long steps take
        self._evicted_in_episode = 0
        self._expired_in_pass = 0
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

    def housekeeping(self, conn: sqlite3.Connection, now: float) -> bool:
        """One step of size bound or TTL expiry, and the reserve file; True while more steps are due
        (the writer calls again at once, after any waiting accepts). Raises sqlite3.Error for the
        engine to classify."""
        self.used = bounds.used_bytes(conn)
        if self.config.full_policy is FullPolicy.EVICT_OLDEST_TELEMETRY and (
            self._evicting or self.used > self.page_budget
        ):
            return self.evict_some(conn)
        if self._expiring or now - self._last_expiry >= self.config.expiry_interval_s:
            self._last_expiry = now
            self._expiring = self.expire(conn, now)
        if not self.ballast.present and now - self._last_ballast_try >= self.config.degraded_retry_s:
            self._restore_ballast(now)
        return self._expiring

    @property
    def target(self) -> int:
        """Eviction goes down to this, so it does not start again on every commit."""
        return int(self.page_budget * EVICT_TARGET)

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
            # one step makes room for the commit that failed; housekeeping goes on to the target
            before = self.evicted_total
            self.evict_some(conn)
            return self.evicted_total > before or freed
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log_limited(self._limiter, log, "make_room", "outbox_evict_failed", error=str(exc))
            return False

    def evict_some(self, conn: sqlite3.Connection) -> bool:
        """One step of an eviction episode (over the budget down to the target); True until it ends."""
        evicted = self.evict_step(conn)
        self._evicted_in_episode += evicted
        # reached when the deletes got there: the step's own gap events may lie above (else each
        # following step would evict about what the gap events of the one before took)
        self._evicting = evicted > 0 and not self._reached
        if not self._evicting and self._evicted_in_episode:  # one line per episode, not per step
            log_event(log, "outbox_evicted", logging.WARNING, count=self._evicted_in_episode, used=self.used,
                      budget=self.page_budget)
            self._evicted_in_episode = 0
        return self._evicting

    def evict_step(self, conn: sqlite3.Connection) -> int:
        """One bounded eviction step toward the target; the number of records evicted."""
        started = time.monotonic()
        evicted = self._evict_round(conn, self.target, self.step_rows)
        if self._tight:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._adapt(evicted, time.monotonic() - started)
        return evicted

    def _adapt(self, rows: int, seconds: float) -> None:
        """Steps that took long get smaller, quick full ones bigger (the disk decides, not a guess)."""
        if seconds > STEP_TARGET_S:
            self.step_rows = max(STEP_MIN_ROWS, self.step_rows // 2)
        elif rows >= self.step_rows and seconds < STEP_TARGET_S / 4:
            self.step_rows = min(STEP_MAX_ROWS, self.step_rows * 2)

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
        self._reached = used <= target
        added = self._insert_gap_events(conn, gaps, "evicted", "evicted_total", self.evicted_total + evicted)
        conn.execute("COMMIT")
        self.rows = rows + added
        self.evicted_total += evicted
        self.used = bounds.used_bytes(conn)
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

    def expire(self, conn: sqlite3.Connection, now: float) -> bool:
        """One bounded expiry step; True when more expired records are left for the next step."""
        started = time.monotonic()
        conn.execute("BEGIN IMMEDIATE")
        gaps, more = bounds.expire(conn, now - self.config.ttl_s, self.step_rows)
        expired = sum(g.count for g in gaps)
        added = self._insert_gap_events(conn, gaps, "expired", "expired_total", self.expired_total + expired)
        conn.execute("COMMIT")
        self._adapt(expired, time.monotonic() - started)
        self.expired_total += expired
        self.rows += added - expired
        self._expired_in_pass += expired
        if not more and self._expired_in_pass:  # one line per pass, not per step
            log_event(log, "outbox_expired", logging.WARNING, count=self._expired_in_pass, ttl_s=self.config.ttl_s)
            self._expired_in_pass = 0
        return more

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
