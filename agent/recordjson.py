"""What the control socket and downlink commands share: a device's driver, and a record as JSON.

Both answer an operator about one device (``edgepost read``, a ``read_point`` command), so they
find the driver the same way and render a reading the same way.
"""

from __future__ import annotations

from typing import Any, Protocol

from agent.errors import CommandError
from agent.records import Event, JsonValue, Reading, Record
from drivers.base import Driver


class DriverLookup(Protocol):
    """The daemon's ``Runtime`` and the dispatcher's ``CommandTargets`` both answer this."""

    def driver_for(self, device: str) -> Driver[Any] | None: ...


def require_driver(targets: DriverLookup, device: str) -> Driver[Any]:
    """The driver serving ``device``; ``CommandError("unknown_device")`` when none does."""
    driver = targets.driver_for(device)
    if driver is None:
        raise CommandError("unknown_device", f"no device named {device!r} in the running config")
    return driver


def record_to_json(record: Record) -> dict[str, JsonValue]:
    if isinstance(record, Reading):
        return {
            "type": "reading",
            "device": record.device,
            "point": record.point,
            "value": record.value,
            "unit": record.unit,
            "quality": record.quality.value,
            "ts": record.ts,
        }
    assert isinstance(record, Event)
    return {
        "type": "event",
        "device": record.device,
        "kind": record.kind,
        "priority": record.priority.name.lower(),
        "data": record.data,
        "ts": record.ts,
    }
