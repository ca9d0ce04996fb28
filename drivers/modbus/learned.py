"""Register ranges a device refused with ILLEGAL DATA ADDRESS, and when to ask it again.

A refusal is not forever: devices answer exception 2 while they boot or sit in set-up mode. Each
learned range is re-probed after ``first_s``, then after twice as long each time the device refuses
it again, up to ``max_s``. Ranges are kept as learned, not merged: a point's own registers and the
hole next to it are re-probed apart, so a real hole never keeps a point that came back unread.
Pure bookkeeping over a wall clock handed in (times are persisted, so they must survive a restart).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from drivers.modbus.profile import Table

REPROBE_FIRST_S = 600.0
REPROBE_MAX_S = 86_400.0


@dataclass(frozen=True, slots=True)
class ReprobePolicy:
    first_s: float = REPROBE_FIRST_S
    max_s: float = REPROBE_MAX_S

    def delay(self, refusals: int) -> float:
        """Wait before the next re-probe of a range refused ``refusals`` times in a row."""
        return float(min(self.max_s, self.first_s * 2.0 ** min(max(refusals - 1, 0), 60)))


@dataclass(slots=True)
class LearnedRange:
    table: Table
    start: int
    end: int
    learned_at: float  # wall clock of the first refusal
    next_probe_at: float  # wall clock
    refusals: int = 1  # the learning refusal plus every refused re-probe since

    @property
    def count(self) -> int:
        return self.end - self.start

    def as_row(self) -> list[float]:
        return [self.start, self.end, round(self.learned_at, 3), round(self.next_probe_at, 3), self.refusals]


class IllegalRanges:
    """Registers a device answered ILLEGAL DATA ADDRESS for, per table, as ``[start, end)`` ranges."""

    def __init__(
        self,
        ranges: dict[Table, list[tuple[int, int]]] | None = None,
        policy: ReprobePolicy | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy or ReprobePolicy()
        self._wall = wall
        self._entries: list[LearnedRange] = []
        for table, spans in (ranges or {}).items():
            for start, end in spans:
                self.add(table, start, end)

    # ------------------------------------------------------------------------------ learning

    def add(self, table: Table, start: int, end: int) -> bool:
        """Remember ``[start, end)``; True when that taught something new. Known parts are not added twice."""
        now = self._wall()
        new = False
        for lo, hi in _subtract([(start, end)], self._spans(table)):
            self._entries.append(LearnedRange(table, lo, hi, now, now + self.policy.delay(1)))
            new = True
        self._entries.sort(key=lambda e: (str(e.table), e.start))
        return new

    def clear_span(self, table: Table, start: int, end: int) -> bool:
        """Registers ``[start, end)`` were read: nothing in them is illegal. True when that forgot something."""
        kept: list[LearnedRange] = []
        changed = False
        for entry in self._entries:
            if entry.table is not table or entry.end <= start or end <= entry.start:
                kept.append(entry)
                continue
            changed = True
            for lo, hi in _subtract([(entry.start, entry.end)], [(start, end)]):
                kept.append(LearnedRange(table, lo, hi, entry.learned_at, entry.next_probe_at, entry.refusals))
        self._entries = kept
        return changed

    def refused_again(self, entry: LearnedRange) -> None:
        entry.refusals += 1
        entry.next_probe_at = self._wall() + self.policy.delay(entry.refusals)

    def postpone(self, entry: LearnedRange) -> None:
        """No verdict (no answer, a busy device): ask again after the same wait, not sooner."""
        entry.next_probe_at = self._wall() + self.policy.delay(entry.refusals)

    def clear(self) -> int:
        count = len(self._entries)
        self._entries = []
        return count

    # ------------------------------------------------------------------------------ queries

    def overlaps(self, table: Table, start: int, end: int) -> bool:
        if not self._entries:  # the common case, asked once per request
            return False
        return any(lo < end and start < hi for lo, hi in self._spans(table))

    def spans(self, table: Table) -> list[tuple[int, int]]:
        """The learned ``[start, end)`` ranges of ``table``, in address order."""
        return self._spans(table)

    def covers(self, table: Table, start: int, end: int) -> bool:
        return not _subtract([(start, end)], self._spans(table)) if end > start else True

    def due(self, now: float | None = None) -> list[LearnedRange]:
        now = self._wall() if now is None else now
        return [e for e in self._entries if e.next_probe_at <= now]

    def next_probe_at(self) -> float:
        return min((e.next_probe_at for e in self._entries), default=math.inf)

    def __iter__(self) -> Iterator[LearnedRange]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def _spans(self, table: Table) -> list[tuple[int, int]]:
        return sorted((e.start, e.end) for e in self._entries if e.table is table)

    # ------------------------------------------------------------------------------ persistence

    def as_dict(self) -> dict[str, list[list[float]]]:
        """``{table: [[start, end, learned_at, next_probe_at, refusals], ...]}`` (the first two are
        what older versions wrote and read)."""
        out: dict[str, list[list[float]]] = {}
        for entry in self._entries:
            out.setdefault(str(entry.table), []).append(entry.as_row())
        return out

    @classmethod
    def from_dict(
        cls,
        data: dict[str, list[list[float]]],
        policy: ReprobePolicy | None = None,
        wall: Callable[[], float] = time.time,
    ) -> IllegalRanges:
        """Load ``as_dict`` output; a bare ``[start, end]`` (older files) counts as learned now."""
        ranges = cls(policy=policy, wall=wall)
        now = wall()
        for table_name, rows in data.items():
            table = Table(table_name)
            for row in rows:
                start, end = int(row[0]), int(row[1])
                if end <= start or ranges.overlaps(table, start, end):
                    continue
                if len(row) >= 5:
                    entry = LearnedRange(table, start, end, float(row[2]), float(row[3]), max(int(row[4]), 1))
                else:
                    entry = LearnedRange(table, start, end, now, now + ranges.policy.delay(1))
                ranges._entries.append(entry)
        ranges._entries.sort(key=lambda e: (str(e.table), e.start))
        return ranges


def _subtract(spans: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` minus ``holes``, as ``[start, end)`` pieces in order."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        cursor = start
        for lo, hi in sorted(holes):
            if hi <= cursor or lo >= end:
                continue
            if lo > cursor:
                out.append((cursor, lo))
            cursor = max(cursor, hi)
        if cursor < end:
            out.append((cursor, end))
    return out
