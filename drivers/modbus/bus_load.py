"""The shortest poll period a bus can keep for some points of a device.

A serial line carries one frame at a time, so the devices on it share one second of line time per
second. A group of points polled together costs the time its planned reads keep the line busy; over
its period that is a load. A new period for some points is feasible while the line's total load stays
at or below 1, so the shortest one is ``read time of those points / (1 - load of everything else)``.
The model is conservative: groups of one device whose deadlines coincide are read together (cheaper).

The read time of a plan is the wire time at the bus's baud rate for a serial line, and the measured
mean request time for a TCP endpoint (unknown, so 0, before the first request).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from drivers.modbus.device import DevicePoller
from drivers.modbus.planner import PlannedRead, PlanPoint, plan_reads

ReadTime = Callable[[Sequence[PlannedRead]], float]  # seconds a plan keeps the bus busy


def plan_time(poller: DevicePoller, names: Iterable[str], read_time: ReadTime) -> float:
    polled = [n for n in names if n in poller.spec.points and n not in poller.unreadable]
    points = [PlanPoint.of(n, poller.spec.points[n]) for n in polled]
    if not points:
        return 0.0
    return read_time(plan_reads(points, poller.limits, poller.illegal, poller.overhead_chars))


def load(poller: DevicePoller, periods: Mapping[str, float], read_time: ReadTime) -> float:
    """Fraction of the bus's time the device takes with ``periods`` (points of equal period read together)."""
    groups: dict[float, list[str]] = {}
    for name, period in periods.items():
        groups.setdefault(period, []).append(name)
    return sum(plan_time(poller, names, read_time) / period for period, names in groups.items())


def min_period_s(
    target: DevicePoller,
    names: Sequence[str],
    neighbours: Iterable[tuple[DevicePoller, ReadTime]],
    read_time: ReadTime,
    elsewhere: float = 0.0,
) -> float:
    """The shortest period for ``names`` of ``target`` the bus can keep (``inf``: none). ``elsewhere``:
    the load of the line's other buses (DL/T 645 meters on the same port, ``drivers.serialbus``)."""
    rest = {n: p for n, p in target.spec.periods.items() if n not in names}
    others = load(target, rest, read_time) + sum(load(p, p.spec.periods, rt) for p, rt in neighbours) + elsewhere
    if others >= 1.0:
        return math.inf
    return plan_time(target, names, read_time) / (1.0 - others)
