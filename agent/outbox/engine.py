"""The outbox's write side: one SQLite connection, used only by the writer thread.

It assigns seqs, commits batches, keeps the store bounded (eviction, expiry, gap events) and
never lets a disk failure escape: a full or read-only disk degrades into the in-memory spill, a
corrupt file is moved aside and replaced. Every method runs on the writer thread.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.errors import OutboxError, OutboxFull
from agent.logs import RateLimiter, log_event, log_limited
from agent.outbox import bounds, hwm
from agent.outbox.codec import NewRow, Row, encode
from agent.outbox.config import FullPolicy, OutboxConfig
from agent.outbox.errors import Failure, OutboxCorrupt, classify
from agent.outbox.files import Ballast, files_size, move_aside, size_limit
from agent.outbox.schema import connect_read_only, open_database
from agent.outbox.spill import Spill, Tombstones, seq_ranges
from agent.records import Event, Priority, Record

log = logging.getLogger("agent.outbox")

_INSERT = "INSERT INTO records (seq, priority, kind, device, ts, accepted_at, body) VALUES (?,?,?,?,?,?,?)"
_DELETE = "DELETE FROM records WHERE seq BETWEEN ? AND ?"
_MIN_LIMIT = 64 * 1024
_EVICT_TARGET = 0.9  # evict down to this share of the limit, so eviction does not run on every commit


class OutboxEngine:
    def __init__(
        self, state_dir: Path, config: OutboxConfig, gateway_id: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "outbox.db"
        self.hwm_path = state_dir / "seq.hwm"
        self.config = config
        self.gateway_id = gateway_id
        self.clock = clock
        self.conn: sqlite3.Connection | None = None
        self.next_seq = 1
        self.reserved = 0
        self.last_accepted_at = 0.0
        self.rows = 0
        self.used = 0
        self.max_bytes = 0
        self.evicted_total = 0
        self.expired_total = 0
        self.degraded: str | None = None
        self.generation = 0  # bumped when the database file is replaced; readers reopen
        self.spill = Spill(config.spill_max_records)
        self.tombstones = Tombstones()
        self._spill_gaps: list[bounds.Gap] = []
        self._pending: list[Record] = []  # alarms to store with the next commit
        self._last_expiry = 0.0
        self._last_retry = 0.0
        self._last_ballast_try = 0.0
        self._wal_budget = 0
        self._tight = False  # the disk ran full once: keep the WAL checkpointed
        self.ballast = Ballast(state_dir / "outbox.reserve", 0)
        self._limiter = RateLimiter(60.0)

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    # ---- open / close -------------------------------------------------------------------------

    def open(self) -> None:
        self.reserved = hwm.read_reservation(self.hwm_path) or 0
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.max_bytes = size_limit(
                self.path, self.config.max_bytes, self.config.max_fraction_of_free_disk, self.config.hard_cap_bytes
            )
            conn, found = open_database(self.path, self.config.durability)
        except OutboxCorrupt as exc:
            conn, found = self._replace_corrupt(str(exc)), -1
        except (sqlite3.Error, OSError) as exc:
            failure = classify(exc)
            if failure is not Failure.CORRUPT:
                self._open_degraded(failure, exc)
                return
            conn, found = self._replace_corrupt(str(exc)), -1
        self.conn = conn
        self._size_wal(conn)
        self._load_state(conn, fresh=found == 0)
        self._ensure_reserved(self.next_seq)
        if self._pending:  # the corrupt-file alarm is stored before anything else
            self._store([], [])
        self.housekeeping()

    def _size_wal(self, conn: sqlite3.Connection) -> None:
        """Scale the WAL and the disk reserve to the limit: on a tiny disk they must fit too."""
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        self._wal_budget = max(64 * 1024, min(8 << 20, self.max_bytes // 10))
        conn.execute(f"PRAGMA wal_autocheckpoint={max(16, min(1000, self._wal_budget // page_size))}")
        conn.execute(f"PRAGMA journal_size_limit={self._wal_budget}")
        self.ballast.size = max(64 * 1024, min(16 << 20, self.max_bytes // 20))

    @property
    def page_budget(self) -> int:
        """Bytes the live pages may use: the limit covers the WAL, the shm and the reserve too."""
        return max(_MIN_LIMIT, self.max_bytes - self._wal_budget - self.ballast.size - 32 * 1024)

    def _open_degraded(self, failure: Failure, exc: BaseException) -> None:
        """The database cannot be written: read what we can for the seq, then run on the spill."""
        if self.max_bytes == 0:
            self.max_bytes = self.config.max_bytes or self.config.hard_cap_bytes
        try:
            ro = connect_read_only(self.path)
            try:
                self._load_state(ro, fresh=False)
            finally:
                ro.close()
        except sqlite3.Error:  # nothing readable: the sidecar, else the clock, stays above old seqs
            self.next_seq = self.reserved + 1 if self.reserved else hwm.fallback_seq()
        self._degrade(failure, exc)

    def _load_state(self, conn: sqlite3.Connection, fresh: bool) -> None:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        top = conn.execute("SELECT MAX(seq), MAX(accepted_at), COUNT(*) FROM records").fetchone()
        last = max(int(meta.get("last_seq", 0)), int(top[0] or 0))
        if fresh:  # a new file: the sidecar remembers seqs a deleted database handed out
            last = max(last, self.reserved)
        self.next_seq = max(self.next_seq, last + 1)
        self.last_accepted_at = max(self.last_accepted_at, float(top[1] or 0.0))
        self.rows = int(top[2])
        self.evicted_total = int(meta.get("evicted_total", 0))
        self.expired_total = int(meta.get("expired_total", 0))

    def _replace_corrupt(self, reason: str) -> sqlite3.Connection:
        """Move the damaged file aside, start a fresh one above the old high-water mark, raise an alarm."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        moved = move_aside(self.path)
        self.generation += 1
        conn, _ = open_database(self.path, self.config.durability)
        reserved = hwm.read_reservation(self.hwm_path)
        floor = reserved + 1 if reserved is not None else hwm.fallback_seq()
        self.next_seq = max(self.next_seq, floor)
        self.rows = 0
        log_event(log, "outbox_corrupt", logging.ERROR, moved_to=str(moved), reason=reason, next_seq=self.next_seq)
        self._pending.append(self._alarm("outbox_corrupt", moved_to=str(moved), reason=reason))
        return conn

    def _recover_corrupt(self, exc: sqlite3.Error) -> bool:
        """Runtime SQLITE_CORRUPT/NOTADB: replace the file; if even that fails, degrade."""
        try:
            self.conn = self._replace_corrupt(str(exc))
        except (sqlite3.Error, OSError, OutboxCorrupt) as again:
            self._degrade(classify(again) if not isinstance(again, OutboxCorrupt) else Failure.CORRUPT, again)
            return False
        return True

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # ---- commit -------------------------------------------------------------------------------

    def commit(
        self, accepts: Sequence[list[NewRow]], deletes: Sequence[Sequence[int]]
    ) -> list[list[int] | OutboxError]:
        """One transaction for every waiting accept and delete; returns each accept's seqs or error."""
        results: list[list[int] | OutboxError] = []
        rows: list[Row] = []
        stamp = self._accepted_at()
        refuse = self._refuse_new()
        for new in accepts:
            if refuse is not None:
                results.append(refuse)
                continue
            batch = self._number(new, stamp)
            rows.extend(batch)
            results.append([r[0] for r in batch])
        ranges = seq_ranges([s for group in deletes for s in group])
        try:
            self._store(rows, ranges)
        except OutboxError as exc:
            return [exc for _ in results]
        return results

    def _refuse_new(self) -> OutboxFull | None:
        if self.config.full_policy is FullPolicy.REJECT_NEW and self.used >= self.page_budget and not self.degraded:
            return OutboxFull(f"outbox is full ({self.used} of {self.page_budget} bytes) and the policy is reject-new")
        return None

    def _accepted_at(self) -> float:
        self.last_accepted_at = max(self.clock(), self.last_accepted_at)
        return self.last_accepted_at

    def _number(self, new: Sequence[NewRow], stamp: float) -> list[Row]:
        start = self.next_seq
        self.next_seq += len(new)
        self._ensure_reserved(self.next_seq)
        return [(start + i, p, k, d, ts, stamp, body) for i, (p, k, d, ts, body) in enumerate(new)]

    def _pending_rows(self) -> list[Row]:
        events, self._pending = self._pending, []
        return self._number([encode(e) for e in events], self._accepted_at()) if events else []

    def _store(self, rows: list[Row], ranges: list[tuple[int, int]]) -> None:
        rows = self._pending_rows() + rows
        if self.conn is None or self.degraded:
            self._to_spill(rows, ranges)
            return
        for attempt in (1, 2):
            try:
                self._write(rows, ranges)
                return
            except sqlite3.Error as exc:
                self._rollback()
                failure = classify(exc)
                if attempt == 1 and failure is Failure.FULL and self._make_room():
                    rows = rows + self._pending_rows()
                    continue
                if attempt == 1 and failure is Failure.CORRUPT and self._recover_corrupt(exc):
                    rows = rows + self._pending_rows()
                    continue
                if failure is Failure.OTHER:
                    raise OutboxError(f"outbox write failed: {exc}") from exc
                self._degrade(failure, exc)
                self._to_spill(rows, ranges)
                return

    def _write(self, rows: list[Row], ranges: list[tuple[int, int]]) -> None:
        assert self.conn is not None
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        deleted = conn.executemany(_DELETE, ranges).rowcount if ranges else 0
        if rows:
            conn.executemany(_INSERT, rows)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (self.last_seq,))
        conn.execute("COMMIT")
        self.rows += len(rows) - max(deleted, 0)

    def _rollback(self) -> None:
        if self.conn is not None and self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log_limited(self._limiter, log, "rollback", "outbox_rollback_failed", error=str(exc))

    def _ensure_reserved(self, upto: int) -> None:
        if self.reserved >= upto:
            return
        try:
            hwm.write_reservation(self.hwm_path, upto + hwm.BLOCK)
            self.reserved = upto + hwm.BLOCK
        except OSError as exc:
            log_limited(self._limiter, log, "hwm", "outbox_hwm_write_failed", error=str(exc))

    # ---- degraded mode ------------------------------------------------------------------------

    def _alarm(self, kind: str, **data: str) -> Event:
        return Event(device=self.gateway_id, kind=kind, ts=self.clock(), priority=Priority.ALARM, data=dict(data))

    def _degrade(self, failure: Failure, exc: BaseException) -> None:
        self._last_retry = self.clock()
        if self.degraded is not None:
            return
        self.degraded = f"{failure.value}: {exc}"
        log_event(log, "outbox_degraded", logging.ERROR, reason=self.degraded, spill_max=self.spill.max_records)
        self._pending.append(self._alarm("outbox_degraded", reason=self.degraded))
        self._to_spill(self._pending_rows(), [])

    def _to_spill(self, rows: list[Row], ranges: list[tuple[int, int]]) -> None:
        if ranges:
            self.tombstones.add(ranges)
            self.spill.delete([s for lo, hi in ranges for s in range(lo, hi + 1)])
        dropped = self.spill.add(rows)
        if dropped:
            self._spill_gaps.extend(dropped)
            self.evicted_total += len(dropped)
            log_limited(self._limiter, log, "spill", "outbox_spill_full", dropped_total=self.spill.dropped_total)

    def _try_recover(self) -> None:
        self._last_retry = self.clock()
        ranges = self.tombstones.take()
        gaps, self._spill_gaps = self._spill_gaps, []
        self._pending.extend(bounds.gap_events(gaps, "evicted", self.clock()))
        extra = self._pending_rows()
        try:
            if self.conn is None:
                self.conn, found = open_database(self.path, self.config.durability)
                self.generation += 1
                self._load_state(self.conn, fresh=found == 0)
            if self.degraded is not None and self.degraded.startswith(Failure.FULL.value):
                self.ballast.release()
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.used = bounds.used_bytes(self.conn)
            if self.used > self.page_budget * _EVICT_TARGET:
                self._evict_rounds(int(self.page_budget * _EVICT_TARGET))
            rows = self.spill.take_all() + extra
            self._write(rows, ranges)
        except (sqlite3.Error, OSError, OutboxCorrupt) as exc:
            self._rollback()
            self.tombstones.add(ranges)
            self._to_spill(extra, [])
            log_limited(self._limiter, log, "recover", "outbox_still_degraded", reason=str(exc))
            return
        self.spill.clear(self.last_seq)
        log_event(log, "outbox_recovered", logging.WARNING, was=self.degraded, restored=len(rows))
        self.degraded = None

    # ---- bounds -------------------------------------------------------------------------------

    def housekeeping(self) -> None:
        """After each commit and on idle ticks: size bound, TTL expiry, degraded-mode retries."""
        now = self.clock()
        if self.degraded is not None:
            if now - self._last_retry >= self.config.degraded_retry_s:
                self._try_recover()
            return
        if self.conn is None:
            return
        try:
            self.used = bounds.used_bytes(self.conn)
            if self.used > self.page_budget and self.config.full_policy is FullPolicy.EVICT_OLDEST_TELEMETRY:
                self._evict_rounds(int(self.page_budget * _EVICT_TARGET))
            if now - self._last_expiry >= self.config.expiry_interval_s:
                self._last_expiry = now
                self._expire(now)
            if not self.ballast.present and now - self._last_ballast_try >= self.config.degraded_retry_s:
                self._restore_ballast(now)
        except sqlite3.Error as exc:
            self._rollback()
            failure = classify(exc)
            if failure is Failure.CORRUPT:
                self._recover_corrupt(exc)
            elif failure is Failure.FULL and self._make_room():
                return
            elif failure is not Failure.OTHER:
                self._degrade(failure, exc)
            else:
                log_limited(self._limiter, log, "housekeeping", "outbox_housekeeping_failed", error=str(exc))

    def _restore_ballast(self, now: float) -> None:
        self._last_ballast_try = now
        if self.used > self.page_budget * _EVICT_TARGET:
            return
        try:
            self.ballast.ensure()
        except OSError as exc:
            log_limited(self._limiter, log, "ballast", "outbox_reserve_unavailable", error=str(exc))

    def _make_room(self) -> bool:
        """SQLITE_FULL: the disk is smaller than our limit thought. Shrink the limit and evict.

        Deleting needs WAL space too, so the reserve is released first and the WAL is
        checkpointed after every eviction round.
        """
        if self.conn is None or self.config.full_policy is FullPolicy.REJECT_NEW:
            return False
        self._tight = True
        occupied = files_size(self.path) + (self.ballast.size if self.ballast.present else 0)
        freed = self.ballast.release()
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            freed = True
        except sqlite3.Error as exc:  # no room to checkpoint: evict anyway, the WAL may still fit
            log_limited(self._limiter, log, "checkpoint", "outbox_checkpoint_failed", error=str(exc))
        try:
            self.max_bytes = max(_MIN_LIMIT, min(self.max_bytes, int(occupied * _EVICT_TARGET)))
            self._size_wal(self.conn)
            log_event(log, "outbox_disk_full", logging.WARNING, occupied=occupied, new_limit=self.max_bytes)
            return self._evict_rounds(int(self.page_budget * _EVICT_TARGET)) > 0 or freed
        except sqlite3.Error as exc:
            self._rollback()
            log_limited(self._limiter, log, "make_room", "outbox_evict_failed", error=str(exc))
            return False

    def _evict_rounds(self, target: int) -> int:
        """Evict in rounds of at most 2% of the rows, one transaction (and gap event per device) each,
        so one round's WAL stays small; on a disk that ran full, checkpoint after every round."""
        assert self.conn is not None
        chunk, evicted = max(1, self.rows // 50), 0
        for _ in range(200):
            step = self._evict_to(target, max_rows=chunk)
            if self._tight:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            evicted += step
            if step == 0 or self.used <= target:
                break
        return evicted

    def _evict_to(self, target: int, max_rows: int | None = None) -> int:
        """Evict by policy until the live pages fit ``target``; one gap event per device."""
        assert self.conn is not None
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        gaps: list[bounds.Gap] = []
        used = bounds.used_bytes(conn)
        rows = self.rows
        budget = self.rows if max_rows is None else max_rows
        while used > target and rows > 0 and budget > 0:
            count = min(budget, max(1, math.ceil((used - target) / (used / rows))))
            budget -= count
            round_gaps = bounds.evict(conn, count)
            if not round_gaps:
                break
            gaps.extend(round_gaps)
            rows -= sum(g.count for g in round_gaps)
            used = bounds.used_bytes(conn)
        evicted = sum(g.count for g in gaps)
        if evicted:
            self._insert_gaps(gaps, "evicted", "evicted_total", self.evicted_total + evicted)
        conn.execute("COMMIT")
        self.rows = rows + len({g.device for g in gaps})
        self.evicted_total += evicted
        self.used = bounds.used_bytes(conn)
        if evicted:
            log_event(log, "outbox_evicted", logging.WARNING, count=evicted, used=self.used, budget=self.page_budget)
        return evicted

    def _insert_gaps(self, gaps: list[bounds.Gap], reason: bounds.GapReason, counter: str, total: int) -> None:
        assert self.conn is not None
        events = bounds.gap_events(gaps, reason, self.clock())
        rows = self._number([encode(e) for e in events], self._accepted_at())
        self.conn.executemany(_INSERT, rows)
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (self.last_seq,))
        self.conn.execute("UPDATE meta SET value = ? WHERE key = ?", (total, counter))

    def _expire(self, now: float) -> None:
        assert self.conn is not None
        self.conn.execute("BEGIN IMMEDIATE")
        gaps = bounds.expire(self.conn, now - self.config.ttl_s)
        expired = sum(g.count for g in gaps)
        if expired:
            self._insert_gaps(gaps, "expired", "expired_total", self.expired_total + expired)
        self.conn.execute("COMMIT")
        if expired:
            self.expired_total += expired
            self.rows += len({g.device for g in gaps}) - expired
            log_event(log, "outbox_expired", logging.WARNING, count=expired, ttl_s=self.config.ttl_s)

    def purge(self, device: str | None, before: float | None) -> int:
        if self.conn is None or self.degraded:
            raise OutboxError(f"outbox is degraded ({self.degraded}); purge needs a writable database")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            gaps = bounds.purge(self.conn, device, before)
            purged = sum(g.count for g in gaps)
            if purged:
                events = bounds.gap_events(gaps, "purged", self.clock())
                self.conn.executemany(_INSERT, self._number([encode(e) for e in events], self._accepted_at()))
                self.conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (self.last_seq,))
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise OutboxError(f"purge failed: {exc}") from exc
        self.rows += len({g.device for g in gaps}) - purged
        log_event(log, "outbox_purged", logging.WARNING, device=device, before=before, count=purged)
        return purged
