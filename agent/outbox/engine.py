"""The outbox's write side: one SQLite connection, used only by the writer thread.

It commits batches with their seqs and never lets a disk failure escape: SQLITE_FULL makes room
and retries, a read-only or failing disk degrades into the in-memory spill (retried
periodically), a corrupt file is moved aside and replaced. Limits live in space.py, seqs in seqs.py.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.errors import OutboxError
from agent.logs import RateLimiter, log_event, log_limited
from agent.outbox import bounds, integrity
from agent.outbox.codec import COLUMNS, NewRow, Row, insert_rows
from agent.outbox.config import OutboxConfig
from agent.outbox.errors import Failure, OutboxCorrupt, classify
from agent.outbox.files import move_aside
from agent.outbox.rejects import Rejections
from agent.outbox.schema import connect_read_only, open_database
from agent.outbox.seqs import SeqAllocator
from agent.outbox.space import SpaceKeeper
from agent.outbox.spill import Spill, Tombstones, seq_ranges
from agent.outbox.state import load_state
from agent.outbox.unrecorded import skip_unrecorded
from agent.private_files import private_dir
from agent.records import Event, Priority, Record

log = logging.getLogger("agent.outbox")


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What one transaction did, per part: a failed part is never reported as done."""

    # per accept: its seqs (None for a record reject-new refused), or why none was stored
    accepts: list[list[int | None] | OutboxError]
    deletes: list[OutboxError | None]  # per delete part: None once deleted (or deferred while degraded)


_DELETE = "DELETE FROM records WHERE seq BETWEEN ? AND ?"
_SINCE = f"SELECT {COLUMNS} FROM records WHERE seq >= ? ORDER BY seq"
_META = (
    "UPDATE meta SET value = CASE key WHEN 'last_seq' THEN ?1 ELSE ?2 END"
    " WHERE key IN ('last_seq', 'evicted_total')"
)


class OutboxEngine:
    def __init__(
        self, state_dir: Path, config: OutboxConfig, gateway_id: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "outbox.db"
        self.config = config
        self.gateway_id = gateway_id
        self.clock = clock
        self.conn: sqlite3.Connection | None = None
        self.seqs = SeqAllocator(state_dir / "seq.hwm", clock, config.ram_seq_reserve, config.degraded_retry_s)
        self.space = SpaceKeeper(self.path, config, self.seqs, clock)
        self.degraded: str | None = None
        self.check_pending = False  # the file needs the background integrity check (integrity.py)
        self.first_seq_of_run = 1
        self.generation = 0  # bumped when the database file is replaced; readers reopen
        self.spill = Spill(config.spill_max_records)
        self.rejections = Rejections()
        self.tombstones = Tombstones()
        self._spill_gaps: list[bounds.Gap] = []
        self._pending: list[Record] = []  # alarms to store with the next commit
        self._unsaved: list[Row] = []  # such records, numbered, whose commit failed
        self._last_retry = 0.0
        self._limiter = RateLimiter(60.0)

    # read by the reader thread and by stats (plain attribute reads)
    @property
    def last_seq(self) -> int:
        return self.seqs.last_seq

    @property
    def max_bytes(self) -> int:
        return self.space.max_bytes

    @property
    def used(self) -> int:
        return self.space.used

    @property
    def evicted_total(self) -> int:
        return self.space.evicted_total

    @property
    def expired_total(self) -> int:
        return self.space.expired_total

    # ---- open / close -------------------------------------------------------------------------

    def open(self, check_file: bool = True) -> None:
        """``check_file=False``: the file was open in this process a moment ago (a writer restart)."""
        try:
            private_dir(self.state_dir)
            self.space.measure_disk()
            unclean = check_file and not integrity.closed_cleanly(self.path)
            check_now = unclean and integrity.check_before_open(self.path)
            conn, found = open_database(self.path, self.config.durability, check=check_now)
            self._adopt(conn, fresh=found == 0)
            self.check_pending = unclean and not check_now and found > 0
        except OutboxCorrupt as exc:
            self._adopt(self._replace_corrupt(str(exc)), fresh=False)
        except (sqlite3.Error, OSError) as exc:
            failure = classify(exc)
            if failure is not Failure.CORRUPT:
                self._open_degraded(failure, exc, check_file)
                return
            self._adopt(self._replace_corrupt(str(exc)), fresh=False)
        if check_file:
            self._pending.extend(skip_unrecorded(self.seqs, self.gateway_id, self.clock()))
        self.first_seq_of_run = self.seqs.next_seq
        self.seqs.refresh()
        if self._pending:  # the corrupt-file alarm is stored before anything else
            self._store([], [])
        self.housekeeping()

    def _adopt(self, conn: sqlite3.Connection, fresh: bool) -> None:
        """Size the WAL and load the counters; pages not checked yet may turn out damaged right here."""
        try:
            self.space.size_wal(conn)
            load_state(conn, self.seqs, self.space, fresh)
        except sqlite3.Error:
            conn.close()
            raise
        self.conn = conn

    def _open_degraded(self, failure: Failure, exc: BaseException, check_file: bool) -> None:
        """The database cannot be written: read what we can for the seq, then run on the spill.
        Records get seqs only once the reservation can be extended (after the skip: usually when the
        disk is back); until then they are refused and counted."""
        try:
            ro = connect_read_only(self.path)
            try:
                load_state(ro, self.seqs, self.space, fresh=False)
            finally:
                ro.close()
        except sqlite3.Error:  # nothing readable: the sidecar, else the clock, stays above old seqs
            self.seqs.raise_floor(self.seqs.floor_after_loss())
        if check_file:
            self._pending.extend(skip_unrecorded(self.seqs, self.gateway_id, self.clock()))
        self._degrade(failure, exc)

    def _replace_corrupt(self, reason: str) -> sqlite3.Connection:
        """Move the damaged file aside, start a fresh one above the old high-water mark, raise an alarm."""
        self.close()
        moved = move_aside(self.path)
        self.generation += 1
        conn, _ = open_database(self.path, self.config.durability)
        self.seqs.raise_floor(self.seqs.floor_after_loss())
        self.space.rows = 0
        log_event(log, "outbox_corrupt", logging.ERROR, moved_to=str(moved), reason=reason, next_seq=self.seqs.next_seq)
        self._pending.append(self._alarm("outbox_corrupt", moved_to=str(moved), reason=reason))
        return conn

    def _recover_corrupt(self, exc: sqlite3.Error) -> bool:
        """Runtime SQLITE_CORRUPT/NOTADB: replace the file; if even that fails, degrade."""
        try:
            self.conn = self._replace_corrupt(str(exc))
            self.space.size_wal(self.conn)
        except (sqlite3.Error, OSError, OutboxCorrupt) as again:
            self._degrade(Failure.CORRUPT if isinstance(again, OutboxCorrupt) else classify(again), again)
            return False
        return True

    def reopen(self, reason: str) -> None:
        """After the writer thread died: a fresh connection (the old one's open transaction rolls
        back); the spill, the tombstones and the pending alarms are kept, they hold accepted records."""
        self.close()
        self.generation += 1
        self._pending.append(self._alarm("outbox_writer_restarted", reason=reason))
        if self.degraded is None:
            self.open(check_file=False)  # SQLite rolled back the dead connection; the file is as it was
        # degraded: the next housekeeping tick opens the file and writes the spill (_try_recover)

    def replace_found_corrupt(self, reason: str, generation: int) -> None:
        """The background check found damage in the file this run opened (writer thread): move it aside
        as at start, and carry over what this run committed to it, if that still reads."""
        if generation != self.generation or self.conn is None or self.degraded is not None:
            return  # already replaced, or not written to at the moment: nothing to do now
        try:
            kept = [tuple(r) for r in self.conn.execute(_SINCE, (self.first_seq_of_run,))]
        except sqlite3.DatabaseError as exc:
            log_event(log, "outbox_salvage_failed", logging.ERROR, error=str(exc))
            kept = []
        if not self._recover_corrupt(sqlite3.DatabaseError(f"background check: {reason}")):
            self._to_spill(kept, [])  # (degraded: they wait in RAM like any accepted record)
            return
        self._unsaved = kept + self._unsaved
        self._store([], [])

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # ---- commit -------------------------------------------------------------------------------

    def commit(self, accepts: Sequence[list[NewRow]], deletes: Sequence[Sequence[int]]) -> CommitResult:
        """One transaction for every waiting accept and delete; returns each part's outcome."""
        rows: list[Row] = []
        stamp = self.seqs.stamp()
        refused = frozenset() if self.degraded else self.space.refused_lanes()
        quiet = not self.rejections
        numbered, refusing = self.rejections.number(accepts, refused, stamp, self.seqs, rows)
        results: list[list[int | None] | OutboxError] = list(numbered)
        if quiet and self.rejections and refused:
            log_event(log, "outbox_full_rejecting", logging.WARNING, lanes=sorted(refused),
                      used=self.space.used, budget=self.space.page_budget)
        if self.rejections.due(stamp, refusing, self.seqs) and int(Priority.EVENT) not in refused:
            self._announce_rejections(stamp)
        ranges = seq_ranges([s for group in deletes for s in group])
        try:
            self._store(rows, ranges)
        except OutboxError as exc:  # nothing of this transaction happened: every part fails
            return CommitResult([exc for _ in results], [exc for _ in deletes])
        return CommitResult(results, [None for _ in deletes])

    def _announce_rejections(self, now: float) -> None:
        gaps = self.rejections.take()
        log_event(log, "outbox_rejected", logging.WARNING, count=sum(g.count for g in gaps),
                  total=self.rejections.total)
        self._pending.extend(bounds.gap_events(gaps, "rejected", now))

    def finish(self) -> None:
        """Before a clean close: one last try to write the degraded-mode spill (else it is lost with
        the process), and refusals still only counted in memory are written as gap events."""
        if self.degraded is not None:
            self._try_recover()
        if self.rejections:
            self._announce_rejections(self.clock())
        if self._pending or self._unsaved:
            try:
                self._store([], [])
            except OutboxError as exc:
                log_event(log, "outbox_final_write_failed", logging.ERROR, error=str(exc))
        if self.degraded is None and self.conn is not None and not (self._pending or self._unsaved):
            self.seqs.release()  # every seq handed out is on disk: the next start skips none

    def _pending_rows(self) -> list[Row]:
        """The outbox's own records waiting to be stored; alarms and gap events stay pending (in
        order) while no reserved seq is left for them."""
        unsaved, self._unsaved = self._unsaved, []
        if not self._pending or self.seqs.room(len(self._pending)) < len(self._pending):
            return unsaved
        events, self._pending = self._pending, []
        return unsaved + self.seqs.rows_for(events)

    def _store(self, rows: list[Row], ranges: list[tuple[int, int]]) -> None:
        own = self._pending_rows()
        try:
            self._store_rows(own + rows, ranges)
        except OutboxError:
            self._unsaved = own  # the outbox's own alarms and gap events go with the next commit
            raise

    def _store_rows(self, rows: list[Row], ranges: list[tuple[int, int]]) -> None:
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
                if attempt == 1 and failure is Failure.FULL and self.conn and self.space.make_room(self.conn):
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
            insert_rows(conn, rows)
        # evicted_total too: records dropped from the RAM spill are counted here once on disk again
        conn.execute(_META, (self.seqs.last_seq, self.space.evicted_total))
        conn.execute("COMMIT")
        self.space.rows += len(rows) - max(deleted, 0)

    def _rollback(self) -> None:
        if self.conn is not None and self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log_limited(self._limiter, log, "rollback", "outbox_rollback_failed", error=str(exc))

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
            self.space.evicted_total += len(dropped)
            log_limited(self._limiter, log, "spill", "outbox_spill_full", dropped_total=self.spill.dropped_total)

    def _try_recover(self) -> None:
        """Degraded: try the disk again; on success the spill and deferred deletes are written."""
        self._last_retry = self.clock()
        self.seqs.refresh()  # succeeds once the disk takes writes again: pending alarms get seqs
        ranges = self.tombstones.take()
        gaps, self._spill_gaps = self._spill_gaps, []
        self._pending.extend(bounds.gap_events(gaps, "evicted", self.clock()))
        extra = self._pending_rows()
        try:
            if self.conn is None:
                check = integrity.check_before_open(self.path)  # a big file: real damage shows on access
                self.conn, found = open_database(self.path, self.config.durability, check=check)
                self.generation += 1
                self.space.measure_disk()
                self.space.size_wal(self.conn)
                load_state(self.conn, self.seqs, self.space, fresh=found == 0)
            if self.degraded is not None and self.degraded.startswith(Failure.FULL.value):
                self.space.ballast.release()
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.space.used = bounds.used_bytes(self.conn)
            if self.space.used > self.space.target:  # one bounded step; housekeeping does the rest
                self.space.evict_some(self.conn)
            rows = self.spill.take_all() + extra
            self._write(rows, ranges)
        except (sqlite3.Error, OSError, OutboxCorrupt) as exc:
            self._rollback()
            self.tombstones.add(ranges)
            self._to_spill(extra, [])
            log_limited(self._limiter, log, "recover", "outbox_still_degraded", reason=str(exc))
            return
        self.spill.clear(self.seqs.last_seq)
        log_event(log, "outbox_recovered", logging.WARNING, was=self.degraded, restored=len(rows))
        # upstream learns where the RAM-only window ended (stored with the next commit)
        self._pending.append(Event(device=self.gateway_id, kind="outbox_recovered", ts=self.clock(),
                                   data={"was": self.degraded, "restored": len(rows)}))
        self.degraded = None

    # ---- periodic -----------------------------------------------------------------------------

    def housekeeping(self) -> bool:
        """After each commit and on idle ticks: size bound, TTL expiry, degraded-mode retries. True
        while an eviction or expiry has more bounded steps to go (the writer calls again at once)."""
        now = self.clock()
        if self.degraded is not None:
            if now - self._last_retry >= self.config.degraded_retry_s:
                self._try_recover()
            return False
        if self.conn is None:
            return False
        try:
            return self.space.housekeeping(self.conn, now)
        except sqlite3.Error as exc:
            self._rollback()
            failure = classify(exc)
            if failure is Failure.CORRUPT:
                self._recover_corrupt(exc)
            elif failure is Failure.FULL and self.space.make_room(self.conn):
                return True
            elif failure is not Failure.OTHER:
                self._degrade(failure, exc)
            else:
                log_limited(self._limiter, log, "housekeeping", "outbox_housekeeping_failed", error=str(exc))
            return False

    def purge(self, device: str | None, before: float | None) -> int:
        if self.conn is None or self.degraded:
            raise OutboxError(f"outbox is degraded ({self.degraded}); purge needs a writable database")
        return self.space.purge(self.conn, device, before)
