"""Writes: a value is checked against the profile before anything goes on the wire, then sent once.

``plan_write`` answers either a typed request ready for the bus or ``WriteRejected`` naming what
is wrong: an unknown point, a read-only one, a wrong type, an unknown enum label, out of min/max.
``send_write`` puts it on the bus exactly once (the bus never resends a write): a write whose reply
did not come may have been applied, so it ends as ``WriteOutcomeUnknown`` unless a read-back was
asked for, which then decides.
"""

from __future__ import annotations

import logging
import math

from agent.errors import DeviceError, TransportError, WriteOutcomeUnknown, WriteRejected, WriteVerifyFailed
from agent.logs import log_event
from agent.records import PointValue
from drivers.modbus.bus import BusQueue
from drivers.modbus.codec import CodecError, encode_point
from drivers.modbus.profile import DataType, Point, Profile, Table
from drivers.modbus.transport import ReadRequest, WriteCoils, WriteRegisters

log = logging.getLogger(__name__)

_INTEGER_TYPES = {
    DataType.INT16,
    DataType.UINT16,
    DataType.INT32,
    DataType.UINT32,
    DataType.INT64,
    DataType.UINT64,
    DataType.BITFIELD,
}


def writable_point(device: str, profile: Profile, name: str) -> Point:
    point = profile.points.get(name)
    if point is None:
        raise WriteRejected(device, name, f"no point {name!r} in profile {profile.id}; {writable_names(profile)}")
    if not point.access.writable or not point.table.writable:
        raise WriteRejected(
            device, name, f"read-only (access {point.access}, table {point.table}); {writable_names(profile)}"
        )
    return point


def writable_names(profile: Profile) -> str:
    names = sorted(n for n, p in profile.points.items() if p.access.writable and p.table.writable)
    return f"writable points: {', '.join(names)}" if names else f"{profile.id} has no writable point"


def check_value(device: str, name: str, point: Point, value: PointValue) -> PointValue:
    """The value to encode (an enum label stays a label); raises ``WriteRejected``."""
    if value is None:
        raise WriteRejected(device, name, "a value is required")
    if point.table.is_bit or point.type is DataType.BOOL:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        raise WriteRejected(device, name, f"expected true/false, got {value!r}")
    if point.type is DataType.STRING:
        if not isinstance(value, str):
            raise WriteRejected(device, name, f"expected a string, got {value!r}")
        return value
    if isinstance(value, str):
        if point.enum is None:
            raise WriteRejected(device, name, f"expected a number, got {value!r}")
        if value not in point.enum.values():
            labels = ", ".join(sorted(point.enum.values()))
            raise WriteRejected(device, name, f"{value!r} is not one of: {labels}")
        return value
    if isinstance(value, bool):
        raise WriteRejected(device, name, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise WriteRejected(device, name, f"expected a finite number, got {value!r}")
    scaled = point.scale != 1.0 or point.offset != 0.0
    if point.type in _INTEGER_TYPES and not scaled and isinstance(value, float) and not value.is_integer():
        raise WriteRejected(device, name, f"expected an integer for {point.type}, got {value!r}")
    if point.min is not None and value < point.min:
        raise WriteRejected(device, name, f"{value!r} is below the minimum {point.min:g}")
    if point.max is not None and value > point.max:
        raise WriteRejected(device, name, f"{value!r} is above the maximum {point.max:g}")
    if point.enum is not None and isinstance(value, int) and value not in point.enum:
        raise WriteRejected(device, name, f"{value!r} is not one of the codes {sorted(point.enum)}")
    return value


def plan_write(
    device: str, unit: int, profile: Profile, name: str, value: PointValue
) -> tuple[Point, WriteCoils | WriteRegisters]:
    """Validate and encode a write of ``value`` to point ``name``; nothing touches the wire here."""
    point = writable_point(device, profile, name)
    checked = check_value(device, name, point, value)
    try:
        words = encode_point(point, checked)
    except CodecError as exc:
        raise WriteRejected(device, name, str(exc)) from None
    if point.table.is_bit:
        return point, WriteCoils(unit, point.address, (bool(words[0]),))
    return point, WriteRegisters(unit, point.address, tuple(words))


async def send_write(
    bus: BusQueue, what: str, table: Table, request: WriteCoils | WriteRegisters, verify: bool
) -> None:
    """Send ``request`` once; with ``verify`` read it back. ``what`` names the target in errors."""
    read_back = ReadRequest(request.unit, table, request.address, len(request.values))
    expected = [int(v) for v in request.values]
    try:
        await bus.execute(request)
    except WriteOutcomeUnknown as unknown:
        if not verify:
            raise WriteOutcomeUnknown(what, unknown.reason) from unknown
        log_event(log, "write_outcome_unknown", logging.WARNING, target=what, reason=unknown.reason, next="read-back")
        try:
            back = await bus.execute(read_back)
        except (DeviceError, TransportError) as exc:
            raise WriteOutcomeUnknown(what, f"{unknown.reason}; the read-back failed too: {exc}") from exc
        if back.values != expected:
            raise WriteVerifyFailed(f"{what}: not applied: wrote {expected}, read back {back.values}") from None
        return
    if verify:
        back = await bus.execute(read_back)
        if back.values != expected:
            raise WriteVerifyFailed(f"{what}: wrote {expected}, read back {back.values}")
