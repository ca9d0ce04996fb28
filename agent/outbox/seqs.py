"""Seq and accept-time allocation: strictly increasing seqs, never-decreasing accepted_at.

The exact high-water mark of what was committed lives in the database (meta.last_seq, same
transaction as the rows). Every seq handed out also lies within the durable reservation in
``seq.hwm`` (hwm.py): a record held only in RAM (degraded mode) leaves no other trace, so a seq above
the reservation is handed out only once the reservation was extended on disk, and when that is not
possible the record is refused (rejects.py). The reservation is kept ``reserve/2`` to ``reserve``
seqs ahead, so a disk that fails mid-run still leaves room for that many records in RAM. A clean
stop writes it back down to the last seq; a start that finds it above the database's last seq
skips those seqs, since a run that stopped uncleanly may have given them to RAM-only records
(engine.py announces the skipped range as a ``lost_in_ram`` gap event).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.logs import RateLimiter, log_limited
from agent.outbox import hwm
from agent.outbox.codec import NewRow, Row, encode
from agent.records import Record

log = logging.getLogger("agent.outbox")


class SeqAllocator:
    def __init__(
        self, hwm_path: Path, clock: Callable[[], float], reserve: int = 100_000, retry_s: float = 5.0
    ) -> None:
        self.hwm_path = hwm_path
        self.clock = clock
        self.reserve = reserve
        self.retry_s = retry_s
        self.next_seq = 1
        self.reserved = hwm.read_reservation(hwm_path) or 0  # durable: no seq above it was handed out
        self.last_accepted_at = 0.0
        self._retry_at = 0.0  # monotonic: after a failed sidecar write, do not retry before this
        self._limiter = RateLimiter(60.0)

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    def raise_floor(self, next_seq: int) -> None:
        self.next_seq = max(self.next_seq, next_seq)

    def floor_after_loss(self) -> int:
        """The first safe seq when the database is gone: above the reservation, else the clock."""
        reserved = hwm.read_reservation(self.hwm_path)
        return reserved + 1 if reserved is not None else hwm.fallback_seq()

    def unrecorded(self) -> tuple[int, int] | None:
        """At start: the reserved seqs above the database's last seq. Only a run that did not stop
        cleanly leaves them, and it may have handed them to records it held only in RAM."""
        if self.reserved > self.last_seq:
            return self.next_seq, self.reserved
        return None

    def stamp(self) -> float:
        """accepted_at for a commit: wall clock, but never earlier than the previous commit's."""
        self.last_accepted_at = max(self.clock(), self.last_accepted_at)
        return self.last_accepted_at

    def room(self, wanted: int) -> int:
        """How many of ``wanted`` new seqs may be handed out now: the reservation is extended on
        disk first when it runs low; fewer than ``wanted`` only when that failed."""
        if self.reserved - self.last_seq - wanted < self.reserve // 2:
            self._extend(self.last_seq + wanted + self.reserve)
        return max(0, min(wanted, self.reserved - self.last_seq))

    def refresh(self) -> None:
        """At start and after the disk came back: reserve ahead now, even right after a failure."""
        self._retry_at = 0.0
        self.room(0)

    def release(self) -> None:
        """On a clean stop with everything on disk: nothing above the last seq was handed out."""
        if self.reserved > self.last_seq:
            self._write(self.last_seq)

    def number(self, new: Sequence[NewRow], stamp: float) -> list[Row]:
        """Seqs for rows; callers ask ``room`` first, except for rows committed in the same
        transaction that numbers them (space.py's gap events): those never live only in RAM."""
        start = self.next_seq
        self.next_seq += len(new)
        return [(start + i, p, k, d, ts, stamp, body) for i, (p, k, d, ts, body) in enumerate(new)]

    def rows_for(self, records: Sequence[Record]) -> list[Row]:
        return self.number([encode(r) for r in records], self.stamp()) if records else []

    def _extend(self, upto: int) -> None:
        if time.monotonic() < self._retry_at:
            return
        if self._write(upto):
            self._retry_at = 0.0
        else:
            self._retry_at = time.monotonic() + self.retry_s

    def _write(self, value: int) -> bool:
        try:
            hwm.write_reservation(self.hwm_path, value)
        except OSError as exc:
            log_limited(self._limiter, log, "hwm", "outbox_hwm_write_failed", error=str(exc),
                        reserved=self.reserved, last_seq=self.last_seq)
            return False
        self.reserved = value
        return True
