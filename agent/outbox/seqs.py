"""Seq and accept-time allocation: strictly increasing seqs, never-decreasing accepted_at.

The exact high-water mark lives in the database (meta.last_seq, same transaction as the rows);
the sidecar reservation (see hwm.py) keeps seqs above it even if the database file is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.logs import RateLimiter, log_limited
from agent.outbox import hwm
from agent.outbox.codec import NewRow, Row, encode
from agent.records import Record

log = logging.getLogger("agent.outbox")


class SeqAllocator:
    def __init__(self, hwm_path: Path, clock: Callable[[], float]) -> None:
        self.hwm_path = hwm_path
        self.clock = clock
        self.next_seq = 1
        self.reserved = hwm.read_reservation(hwm_path) or 0
        self.last_accepted_at = 0.0
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

    def stamp(self) -> float:
        """accepted_at for a commit: wall clock, but never earlier than the previous commit's."""
        self.last_accepted_at = max(self.clock(), self.last_accepted_at)
        return self.last_accepted_at

    def number(self, new: Sequence[NewRow], stamp: float) -> list[Row]:
        start = self.next_seq
        self.next_seq += len(new)
        self.ensure_reserved(self.next_seq)
        return [(start + i, p, k, d, ts, stamp, body) for i, (p, k, d, ts, body) in enumerate(new)]

    def rows_for(self, records: Sequence[Record]) -> list[Row]:
        return self.number([encode(r) for r in records], self.stamp()) if records else []

    def ensure_reserved(self, upto: int) -> None:
        if self.reserved >= upto:
            return
        try:
            hwm.write_reservation(self.hwm_path, upto + hwm.BLOCK)
            self.reserved = upto + hwm.BLOCK
        except OSError as exc:
            log_limited(self._limiter, log, "hwm", "outbox_hwm_write_failed", error=str(exc))
