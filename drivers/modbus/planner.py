"""Read planner: the cheapest set of requests that reads a device's due points. Pure, no I/O.

Per table, the points are sorted by address and partitioned into consecutive runs, each run one
request. A dynamic programme over the sorted points finds the partition of least wire cost
(``overhead`` characters per request + 2 per register, or 1/8 per bit), within the Modbus maxima,
the device's own limits and its hole limit, and never spanning a register learned to be illegal.
Without a hole limit in the profile, a hole is read along whenever that is cheaper on the wire; a
device that refuses one answers ILLEGAL DATA ADDRESS, and the poller learns the hole and plans around
it from then on (``device.py``, ``learned.py``).
Since a request's cost only depends on its first and last point, the DP is exact.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.modbus.config import bits_per_char
from drivers.modbus.learned import IllegalRanges
from drivers.modbus.profile import Point, ReadLimits, Table
from drivers.modbus.transport import MAX_READ_BITS, MAX_READ_REGISTERS

# RTU read: request unit+fc+addr(2)+count(2)+crc(2) = 8 bytes; response unit+fc+bytecount+crc(2) = 5
REQUEST_BYTES = 8
RESPONSE_OVERHEAD_BYTES = 5
SILENCE_CHARS = 2 * 3.5  # one inter-frame gap before the request and one before the response
TABLE_ORDER = (Table.COIL, Table.DISCRETE, Table.INPUT, Table.HOLDING)


@dataclass(frozen=True, slots=True)
class PlanPoint:
    name: str
    table: Table
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count

    @classmethod
    def of(cls, name: str, point: Point) -> PlanPoint:
        count = 1 if point.table.is_bit else point.register_count
        return cls(name, point.table, point.address, count)


@dataclass(frozen=True, slots=True)
class PlannedRead:
    """One request: ``count`` registers/bits from ``address``, serving ``points`` (in address order)."""

    table: Table
    address: int
    count: int
    points: tuple[PlanPoint, ...]

    @property
    def end(self) -> int:
        return self.address + self.count


def overhead_chars(baud: int, parity: str, stopbits: int, turnaround_s: float) -> float:
    """Per-request cost in character times: frame bytes, the two silences and the device turnaround."""
    char_s = bits_per_char(parity, stopbits) / baud
    return REQUEST_BYTES + RESPONSE_OVERHEAD_BYTES + SILENCE_CHARS + turnaround_s / char_s


def payload_chars(table: Table, count: int) -> float:
    return math.ceil(count / 8) if table.is_bit else 2 * count


def _max_count(table: Table, limits: ReadLimits) -> int:
    if table.is_bit:
        return min(limits.max_bits, MAX_READ_BITS)
    return min(limits.max_registers, MAX_READ_REGISTERS)


def _max_hole(table: Table, limits: ReadLimits) -> int:
    """A profile's fixed hole limit; without one, any hole the request size allows (the cost decides,
    and a device that refuses a hole teaches it through ``IllegalRanges``)."""
    if limits.max_hole is None:
        return _max_count(table, limits)
    return limits.max_hole * 16 if table.is_bit else limits.max_hole


def _plan_table(
    table: Table,
    points: Sequence[PlanPoint],
    limits: ReadLimits,
    illegal: IllegalRanges,
    overhead: float,
) -> list[PlannedRead]:
    pts = sorted(points, key=lambda p: (p.address, p.end, p.name))
    n = len(pts)
    max_count, max_hole = _max_count(table, limits), _max_hole(table, limits)
    bits = table.is_bit
    refused = illegal.spans(table)  # few, if any: checked only for runs that reach over a hole
    best = [math.inf] * (n + 1)  # best[j]: cost of reading pts[:j]
    cut = [0] * (n + 1)  # the run ending at j starts at cut[j]
    best[0] = 0.0
    for i in range(n):
        if best[i] == math.inf:
            continue
        start, end = pts[i].address, pts[i].end
        for j in range(i, n):
            if j > i:
                point = pts[j]
                hole = point.address - end
                if hole > max_hole:
                    break
                if point.end > end:
                    end = point.end
                # a lone point is always planned (its own registers decide); a merged run must fit
                if end - start > max_count or (refused and any(lo < end and start < hi for lo, hi in refused)):
                    break
            cost = best[i] + overhead + (math.ceil((end - start) / 8) if bits else 2 * (end - start))
            if cost < best[j + 1]:
                best[j + 1], cut[j + 1] = cost, i
    plan: list[PlannedRead] = []
    j = n
    while j > 0:
        i = cut[j]
        run = tuple(pts[i:j])
        start = run[0].address
        end = max(p.end for p in run)
        plan.append(PlannedRead(table, start, end - start, run))
        j = i
    plan.reverse()
    return plan


def plan_reads(
    points: Iterable[PlanPoint],
    limits: ReadLimits | None = None,
    illegal: IllegalRanges | None = None,
    overhead: float = 20.0,
) -> list[PlannedRead]:
    """Fewest-cost requests reading every point; ``overhead`` is the per-request cost in characters."""
    limits = limits or ReadLimits()
    if not illegal:
        # devices of one model poll the same points: one plan serves them all
        return list(_plan_nothing_learned(frozenset(points), limits, overhead))
    return _plan(points, limits, illegal, overhead)


@functools.lru_cache(maxsize=256)
def _plan_nothing_learned(points: frozenset[PlanPoint], limits: ReadLimits, overhead: float) -> tuple[PlannedRead, ...]:
    return tuple(_plan(points, limits, IllegalRanges(), overhead))


def _plan(
    points: Iterable[PlanPoint], limits: ReadLimits, illegal: IllegalRanges, overhead: float
) -> list[PlannedRead]:
    by_table: dict[Table, list[PlanPoint]] = {}
    for point in points:
        by_table.setdefault(point.table, []).append(point)
    plan: list[PlannedRead] = []
    for table in TABLE_ORDER:
        if by_table.get(table):
            plan.extend(_plan_table(table, by_table[table], limits, illegal, overhead))
    return plan


def one_per_point(points: Iterable[PlanPoint]) -> list[PlannedRead]:
    """The naive plan: one request per point (the benchmark's baseline)."""
    ordered = sorted(points, key=lambda p: (TABLE_ORDER.index(p.table), p.address))
    return [PlannedRead(p.table, p.address, p.count, (p,)) for p in ordered]


def wire_time_s(
    plan: Iterable[PlannedRead],
    baud: int,
    parity: str = "N",
    stopbits: int = 1,
    turnaround_s: float = 0.0,
) -> float:
    """Time the plan keeps an RTU line busy: frames, the 3.5-char silences and the device turnaround."""
    char_s = bits_per_char(parity, stopbits) / baud
    total = 0.0
    for read in plan:
        chars = REQUEST_BYTES + RESPONSE_OVERHEAD_BYTES + payload_chars(read.table, read.count) + SILENCE_CHARS
        total += chars * char_s + turnaround_s
    return total


def split_read(read: PlannedRead) -> tuple[PlannedRead, PlannedRead]:
    """Split a merged read in two (for ILLEGAL DATA ADDRESS answers): at its widest hole, where an
    illegal register most likely sits, or in the middle when the points are contiguous."""
    if len(read.points) < 2:
        raise ValueError("a single-point read cannot be split")
    middle = len(read.points) / 2
    ends = [max(p.end for p in read.points[: i + 1]) for i in range(len(read.points))]
    half = max(
        range(1, len(read.points)),
        key=lambda i: (read.points[i].address - ends[i - 1], -abs(i - middle)),
    )
    return _run(read.table, read.points[:half]), _run(read.table, read.points[half:])


def _run(table: Table, points: Sequence[PlanPoint]) -> PlannedRead:
    start = points[0].address
    end = max(p.end for p in points)
    return PlannedRead(table, start, end - start, tuple(points))


def uncovered(read: PlannedRead, parts: Iterable[PlannedRead]) -> list[tuple[int, int]]:
    """Address ranges of ``read`` that none of ``parts`` reads: where the illegal registers must be."""
    covered = sorted((p.address, p.end) for p in parts)
    gaps: list[tuple[int, int]] = []
    cursor = read.address
    for start, end in covered:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < read.end:
        gaps.append((cursor, read.end))
    return gaps
