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
