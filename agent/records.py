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


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: a device state change, an alarm, a gap, a line crossing."""

    device: str
    kind: str
    ts: float = field(default_factory=time.time)
    priority: Priority = Priority.EVENT
    data: dict[str, JsonValue] = field(default_factory=dict)


Record: TypeAlias = Reading | Event
