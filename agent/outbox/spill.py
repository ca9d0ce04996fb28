"""The degraded mode's memory: a bounded in-RAM spill of rows, and tombstones for deferred deletes.

When the disk refuses writes (full, read-only, i/o error) accepted rows wait here with their seqs
until the disk comes back. Both sides are touched by the writer thread and the reader thread, so
they carry a lock.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterable, Sequence

from agent.outbox.bounds import EVICTION_ORDER, Gap
from agent.outbox.codec import Row
from agent.records import Priority


class Spill:
    """Rows per lane; when full, the oldest telemetry goes first, alarms last."""

    def __init__(self, max_records: int) -> None:
        self.max_records = max_records
        self._lanes: dict[int, deque[Row]] = {int(p): deque() for p in Priority}
        self._lock = threading.Lock()
        self.dropped_total = 0

    def __len__(self) -> int:
        return sum(len(q) for q in self._lanes.values())

    def add(self, rows: Iterable[Row]) -> list[Gap]:
        """Add rows; returns one gap per dropped row (merged later into gap events)."""
        dropped: list[Gap] = []
        with self._lock:
            for row in rows:
                self._lanes[row[1]].append(row)
            while len(self) > self.max_records:
                for priority in EVICTION_ORDER:
                    lane = self._lanes[int(priority)]
                    if lane:
                        old = lane.popleft()
                        dropped.append(Gap(old[3], old[4], old[4], 1))
                        break
            self.dropped_total += len(dropped)
        return dropped

    def take_all(self) -> list[Row]:
        with self._lock:
            rows = sorted((r for q in self._lanes.values() for r in q), key=lambda r: r[0])
            return rows

    def clear(self, upto_seq: int) -> None:
        with self._lock:
            for lane in self._lanes.values():
                while lane and lane[0][0] <= upto_seq:
                    lane.popleft()

    def delete(self, seqs: Sequence[int]) -> None:
        wanted = set(seqs)
        with self._lock:
            for p, lane in self._lanes.items():
                if any(r[0] in wanted for r in lane):
                    self._lanes[p] = deque(r for r in lane if r[0] not in wanted)

    def select(
        self,
        limit: int,
        after_seq: int,
        priority: int | None,
        since: float | None,
        before: float | None,
    ) -> list[Row]:
        with self._lock:
            lanes = [self._lanes[priority]] if priority is not None else list(self._lanes.values())
            rows = [
                r
                for lane in lanes
                for r in lane
                if r[0] > after_seq
                and (since is None or r[5] >= since)
                and (before is None or r[5] < before)
            ]
        rows.sort(key=lambda r: r[0])
        return rows[:limit]


class Tombstones:
    """Seqs the uplink deleted while the database could not be written; merged into ranges."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._starts)

    def add(self, ranges: Iterable[tuple[int, int]]) -> None:
        with self._lock:
            pairs = sorted([*zip(self._starts, self._ends, strict=True), *ranges])
            merged: list[tuple[int, int]] = []
            for lo, hi in pairs:
                if merged and lo <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
                else:
                    merged.append((lo, hi))
            self._starts = [lo for lo, _ in merged]
            self._ends = [hi for _, hi in merged]

    def contains(self, seq: int) -> bool:
        with self._lock:
            i = bisect.bisect_right(self._starts, seq) - 1
            return i >= 0 and seq <= self._ends[i]

    def take(self) -> list[tuple[int, int]]:
        with self._lock:
            out = list(zip(self._starts, self._ends, strict=True))
            self._starts, self._ends = [], []
            return out


def seq_ranges(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted, merged inclusive ranges: a 500-seq PUBACK batch is usually one or a few ranges."""
    ordered = sorted(set(seqs))
    if ordered and ordered[-1] - ordered[0] + 1 == len(ordered):  # the common case: one run, no loop
        return [(ordered[0], ordered[-1])]
    out: list[tuple[int, int]] = []
    for s in ordered:
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out
