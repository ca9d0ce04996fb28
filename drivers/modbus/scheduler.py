"""Poll timing of one device: per-point periods on a drift-free grid, back-off, online/offline.

All of it is pure bookkeeping over times handed in by the caller (a monotonic clock in the driver,
a fake one in tests). Deadlines sit on ``origin + k * period``: a slow cycle never shifts later
ones. A cycle that runs past a point's next deadline skips that slot (counted in
``missed_cycles``) instead of queueing a burst of catch-up reads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from agent.logs import log_event
from agent.records import Event, JsonValue, Priority, Record
from drivers.serialbus.backoff import Backoff

# deadlines this close together are served by one cycle (a 1 s and a 2 s point share a read)
COALESCE_S = 0.005


class PollGrid:
    """Next deadline of every point; all points share one origin so equal periods stay in step."""

    def __init__(self, periods: dict[str, float], origin: float) -> None:
        self.origin = origin
        self.periods: dict[str, float] = {}
        self.deadlines: dict[str, float] = {}
        self.missed_cycles = 0
        for name, period in periods.items():
            self.set_period(name, period, origin)

    def set_period(self, point: str, period_s: float, now: float) -> None:
        """Change one point's period; its next deadline is the first slot of the new grid after ``now``."""
        if period_s <= 0:
            raise ValueError("period must be positive")
        self.periods[point] = period_s
        self.deadlines[point] = self._slot_after(period_s, now, inclusive=True)

    def remove(self, point: str) -> None:
        self.periods.pop(point, None)
        self.deadlines.pop(point, None)

    def _slot_after(self, period: float, now: float, inclusive: bool) -> float:
        if now <= self.origin:
            return self.origin
        k = math.ceil((now - self.origin) / period - 1e-9)
        slot = self.origin + k * period
        if not inclusive and slot <= now:
            slot += period
        return slot

    def next_deadline(self) -> float:
        return min(self.deadlines.values(), default=math.inf)

    def due(self, now: float) -> list[str]:
        """Points whose deadline has come (within ``COALESCE_S``)."""
        return [name for name, deadline in self.deadlines.items() if deadline <= now + COALESCE_S]

    def complete(self, points: Iterable[str], finished: float) -> int:
        """Advance the served points past the cycle's end. Returns the slots skipped by an overrun."""
        worst = 0
        periods, deadlines = self.periods, self.deadlines
        for name in points:
            period = periods.get(name)
            if period is None:
                continue
            deadline = deadlines[name] + period
            if deadline <= finished:
                following = self._slot_after(period, finished, inclusive=False)
                worst = max(worst, round((following - deadline) / period))
                deadline = following
            deadlines[name] = deadline
        self.missed_cycles += worst
        return worst

    def postpone(self, until: float) -> None:
        """Back-off: every deadline before ``until`` moves to its first grid slot from ``until`` on."""
        for name, period in self.periods.items():
            if self.deadlines[name] < until:
                self.deadlines[name] = self._slot_after(period, until, inclusive=True)


def stagger_offset(index: int, count: int, period_s: float) -> float:
    """Spread ``count`` devices evenly over one period so they don't all poll at t=0."""
    if count <= 1:
        return 0.0
    return period_s * (index % count) / count


class DeviceState(StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    DEGRADED = "degraded"  # answers, but some requests fail
    OFFLINE = "offline"  # ``offline_after`` cycles in a row without any answer


@dataclass
class DeviceHealth:
    """Online, degraded or offline from the last cycles.

    A failure makes the device degraded until ``clean_window`` cycles in a row went through, so a
    device that drops one frame in three does not flap online/degraded every poll. Recovering from
    offline starts afresh: the outage is over, the first clean cycle is online.
    """

    offline_after: int = 3
    clean_window: int = 10
    state: DeviceState = DeviceState.UNKNOWN
    silent_cycles: int = 0
    clean_cycles: int = 0

    def record(self, answered: int, failed: int) -> DeviceState | None:
        """Account one cycle; the new state when it changed, else None."""
        if not answered and not failed:
            return None
        if not answered:
            self.silent_cycles += 1
            self.clean_cycles = 0
            if self.silent_cycles >= self.offline_after:
                new = DeviceState.OFFLINE
            elif self.state is DeviceState.ONLINE:
                new = DeviceState.DEGRADED
            else:
                new = self.state
        else:
            self.silent_cycles = 0
            if self.state in (DeviceState.OFFLINE, DeviceState.UNKNOWN):
                self.clean_cycles = self.clean_window  # a fresh start
            self.clean_cycles = 0 if failed else self.clean_cycles + 1
            new = DeviceState.ONLINE if self.clean_cycles >= self.clean_window else DeviceState.DEGRADED
        if new is self.state:
            return None
        self.state = new
        return new


__all__ = ["Backoff", "DeviceHealth", "DeviceState", "PollGrid", "stagger_offset"]


def device_state_events(log: logging.Logger, device: str, previous: DeviceState, new: DeviceState | None,
                        ts: float) -> list[Record]:
    """The ``device_state`` event (an alarm when the device went offline) for a change ``DeviceHealth.record``
    reported, logged on the poller's logger; none when the state did not change."""
    if new is None:
        return []
    level = logging.WARNING if new in (DeviceState.OFFLINE, DeviceState.DEGRADED) else logging.INFO
    log_event(log, "device_state", level, device=device, state=str(new), previous=str(previous))
    data: dict[str, JsonValue] = {"state": str(new), "previous": str(previous)}
    priority = Priority.ALARM if new is DeviceState.OFFLINE else Priority.EVENT
    return [Event(device=device, kind="device_state", ts=ts, priority=priority, data=data)]
