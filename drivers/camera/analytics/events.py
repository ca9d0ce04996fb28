"""Camera events carry an ``event_id`` so a snapshot can be linked to the event it illustrates."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from agent.records import Event, JsonValue, Priority


def camera_event(
    device: str, kind: str, ts: float, priority: Priority = Priority.EVENT, **data: JsonValue
) -> Event:
    return Event(device=device, kind=kind, ts=ts, priority=priority, data={"event_id": uuid.uuid4().hex, **data})


class Stamp(NamedTuple):
    """When a frame was taken: wall clock for records, scene time (``clock.SceneClock``) for durations."""

    ts: float
    mono: float
