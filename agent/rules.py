"""Per-point reporting rules a driver declares and the pipeline enforces.

Drivers know their points' deadbands and alarm thresholds (from firmware profiles and device
config); the pipeline applies them without knowing where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """Raise when value > above (or < below); clear once back past the threshold by ``hysteresis``."""

    name: str
    above: float | None = None
    below: float | None = None
    hysteresis: float = 0.0
    absolute: bool = False  # compare |value|
    priority: str = "high"  # low | medium | high | critical
    message: str | None = None


@dataclass(frozen=True, slots=True)
class PointRule:
    device: str
    point: str
    deadband: float | None = None  # None: report every reading
    heartbeat_s: float | None = None  # None: the pipeline's default
    alarms: tuple[AlarmRule, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """A stretch of every day in the site's local time, ``start`` to ``end`` minutes after midnight.

    ``end`` <= ``start`` runs past midnight (22:00-06:00); 00:00-24:00 is the whole day.
    """

    start_min: int
    end_min: int

    @property
    def whole_day(self) -> bool:
        return self.end_min - self.start_min == 24 * 60


@dataclass(frozen=True, slots=True)
class CareRule:
    """A rule on a counter point (a water meter's totaliser): ``inactivity`` or ``continuous_flow``.

    The counter is cut into intervals of ``interval_s``; an interval *flows* when the counter rose by
    more than 0 and by at least ``min_flow_per_h`` (counter units per hour) over its length.
    ``inactivity`` raises after ``hours`` of intervals without flow, counting only time inside
    ``windows`` (local time); ``continuous_flow`` raises after ``hours`` of intervals that all flowed.
    Neither raises inside ``quiet`` (it raises when they end, if still true); clears always pass.
    """

    device: str
    point: str
    kind: str  # inactivity | continuous_flow
    hours: float
    interval_s: float
    timezone: str  # IANA name, e.g. Asia/Shanghai
    min_flow_per_h: float = 0.0
    windows: tuple[DailyWindow, ...] = (DailyWindow(0, 24 * 60),)
    quiet: tuple[DailyWindow, ...] = ()
    wrap: float | None = None  # the counter rolls over to 0 at this value
    severity: str = "high"
    message: str | None = None
