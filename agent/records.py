"""The typed records that flow drivers -> pipeline -> outbox -> uplink."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TypeAlias

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]
PointValue: TypeAlias = float | int | bool | str | None


class Quality(StrEnum):
    GOOD = "good"
    STALE = "stale"  # last known value, the device did not answer this cycle
    BAD = "bad"  # the device answered but the value is unusable (exception, decode error)


class Priority(IntEnum):
    """Outbox lane. Lower drains first."""

    ALARM = 0
    EVENT = 1
    TELEMETRY = 2


@dataclass(frozen=True, slots=True)
class Reading:
    """One point value, stamped with the wall-clock time it was read."""

    device: str
    point: str
    value: PointValue
    ts: float
    unit: str | None = None
    quality: Quality = Quality.GOOD

    @property
    def priority(self) -> Priority:
        return Priority.TELEMETRY


# A frozen dataclass's __init__ goes through object.__setattr__ once per field: half the cost of
# building a Reading, which drivers do for every point of every poll. The slots' own setters are direct.
_READING_SLOTS = tuple(Reading.__dict__[name].__set__ for name in ("device", "point", "value", "ts", "unit", "quality"))


def new_reading(
    device: str, point: str, value: PointValue, ts: float, unit: str | None, quality: Quality
) -> Reading:
    """``Reading(device, point, value, ts, unit, quality)``, built without the frozen dataclass's
    per-field ``object.__setattr__`` (the drivers' hot path)."""
    reading = object.__new__(Reading)
    set_device, set_point, set_value, set_ts, set_unit, set_quality = _READING_SLOTS
    set_device(reading, device)
    set_point(reading, point)
    set_value(reading, value)
    set_ts(reading, ts)
    set_unit(reading, unit)
    set_quality(reading, quality)
    return reading


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: a device state change, an alarm, a gap, a line crossing."""

    device: str
    kind: str
    ts: float = field(default_factory=time.time)
    priority: Priority = Priority.EVENT
    data: dict[str, JsonValue] = field(default_factory=dict)


Record: TypeAlias = Reading | Event
