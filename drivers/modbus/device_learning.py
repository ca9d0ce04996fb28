"""What one device taught about itself at run time, and how long that lasts.

Three lessons: register ranges it refused (``IllegalRanges``, re-probed with back-off), the polled
points whose own registers it refused (dropped from polling until a range holding them is read
again), and a read limit lower than its profile's (restored after the same back-off; a device that
still reads fewer teaches it again through the bisection). Bookkeeping only: the poller does the I/O.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.logs import log_event
from agent.records import JsonValue
from drivers.modbus.learned import IllegalRanges
from drivers.modbus.planner import PlannedRead, PlanPoint
from drivers.modbus.profile import Table

if TYPE_CHECKING:
    from drivers.modbus.device_types import DeviceSpec

log = logging.getLogger(__name__)


class DeviceLearning:
    def __init__(self, spec: DeviceSpec, illegal: IllegalRanges, wall: Callable[[], float]) -> None:
        self.device = spec.name
        self.points = spec.points
        self.known_ranges = spec.known_ranges
        self.profile_limits = spec.limits
        self.limits = spec.limits
        self.illegal = illegal
        self.unreadable: set[str] = set()
        self._wall = wall
        self._limit_lowerings = 0
        self._limit_restore_at: float | None = None

    def point_refused(self, name: str, table: Table, start: int, end: int) -> None:
        self.unreadable.add(name)
        self.illegal.add(table, start, end)

    def not_points(self, table: Table, gaps: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Drop registers of the profile's own points from learned gaps: a point not due this cycle
        may sit in a hole and is not illegal for that."""
        out: list[tuple[int, int]] = []
        for start, end in gaps:
            cursor = start
            for p_table, p_start, p_end in sorted(self.known_ranges, key=lambda r: r[1]):
                if p_table != str(table) or p_end <= cursor or p_start >= end:
                    continue
                if p_start > cursor:
                    out.append((cursor, p_start))
                cursor = max(cursor, p_end)
            if cursor < end:
                out.append((cursor, end))
        return out

    def lower_limit(self, read: PlannedRead) -> None:
        key = "max_bits" if read.table.is_bit else "max_registers"
        current = getattr(self.limits, key)
        self.limits = self.limits.model_copy(update={key: max(1, min(current, read.count - 1))})
        self._limit_lowerings += 1
        self._limit_restore_at = self._wall() + self.illegal.policy.delay(self._limit_lowerings)

    def proven_legal(self, table: Table, start: int, end: int) -> list[str]:
        """Registers ``[start, end)`` were read: forget what said otherwise; the points polled again."""
        if not self.illegal.clear_span(table, start, end):
            return []
        return self.readmit()

    def readmit(self) -> list[str]:
        """Unreadable points no learned range covers any more (they are to be polled again)."""
        back = []
        for name in sorted(self.unreadable):
            own = PlanPoint.of(name, self.points[name])
            if not self.illegal.overlaps(own.table, own.address, own.end):
                back.append(name)
        self.unreadable.difference_update(back)
        for name in back:
            log_event(log, "point_readable_again", device=self.device, point=name)
        return back

    def restore_limit_if_due(self) -> bool:
        if self._limit_restore_at is None or self._limit_restore_at > self._wall():
            return False
        self.limits = self.profile_limits
        self._limit_restore_at = None
        log_event(log, "read_limit_restored", device=self.device)
        return True

    def next_relearn_at(self) -> float:
        """Wall time of the next re-probe or limit restore (``inf``: nothing learned)."""
        limit = self._limit_restore_at if self._limit_restore_at is not None else math.inf
        return min(self.illegal.next_probe_at(), limit)

    def forget(self) -> dict[str, JsonValue]:
        """Forget every lesson; returns what was forgotten."""
        unreadable = sorted(self.unreadable)
        forgotten: dict[str, JsonValue] = {
            "ranges": self.illegal.clear(),
            "unreadable": list[JsonValue](unreadable),
            "limits_restored": self.limits != self.profile_limits,
        }
        self.unreadable.clear()
        self.limits = self.profile_limits
        self._limit_lowerings = 0
        self._limit_restore_at = None
        log_event(log, "learned_state_forgotten", device=self.device, ranges=forgotten["ranges"],
                  unreadable=",".join(unreadable) or "-")
        return forgotten

    def status(self) -> dict[str, JsonValue]:
        ranges: list[JsonValue] = [
            {
                "table": str(e.table),
                "start": e.start,
                "end": e.end,
                "refusals": e.refusals,
                "learned_at": e.learned_at,
                "next_probe_at": e.next_probe_at,
            }
            for e in self.illegal
        ]
        next_at = self.next_relearn_at()
        out: dict[str, JsonValue] = {
            "unreadable": list[JsonValue](sorted(self.unreadable)),
            "learned_ranges": ranges,
            "next_reprobe_at": next_at if math.isfinite(next_at) else None,
        }
        if self.limits != self.profile_limits:
            out["read_limit"] = {"max_registers": self.limits.max_registers, "max_bits": self.limits.max_bits}
        return out
