"""What a ``DevicePoller`` is given (``DeviceSpec``), what it counts (``DeviceCounters``) and what one
polling cycle returns (``CycleResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.records import Reading
from drivers.modbus.profile import Point, ReadLimits


@dataclass
class DeviceCounters:
    cycles: int = 0
    requests: int = 0
    readings: int = 0
    timeouts: int = 0
    exceptions: int = 0
    errors: int = 0
    decode_errors: int = 0
    last_read_ts: float | None = None


@dataclass
class CycleResult:
    readings: list[Reading] = field(default_factory=list)
    answered: int = 0  # requests the device answered (an exception is an answer)
    failed: int = 0  # requests that gave no usable data
    silent: bool = False  # a timeout cut the cycle short


@dataclass
class DeviceSpec:
    """What a poller needs to know about its device, resolved from config + profile."""

    name: str
    unit: int
    points: dict[str, Point]  # the polled points
    periods: dict[str, float]
    limits: ReadLimits
    known_ranges: list[tuple[str, int, int]] = field(default_factory=list)  # every profile point
