"""What a technician should hear before a write goes out, and what the register really got.

- A raw write (registers by address) skips the profile's checks. When a profile is known for the
  unit, ``raw_write_concerns`` names each point the registers land on whose value would fall outside
  the profile's min/max, is read-only there, is only partly overwritten, or is a comms setting.
- A comms setting (unit address, baud rate, parity) can cut the device off the bus: ``is_comms``
  says so from the profile's ``comms: true``, or from the point's name for profiles that predate it.
- A value the register cannot hold exactly (0.0004 V on a 0.001 V step) is rounded by the encoder:
  ``written_value`` decodes what was actually sent, so it can be reported instead of what was asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from agent.records import PointValue
from drivers.modbus.codec import CodecError, decode_point
from drivers.modbus.profile import DataType, Point, Profile, Table

# names of comms settings in register maps (modbus_address, slave_id, baud_rate_code, network_parity...)
_COMMS_NAME = re.compile(
    r"(^|_)(modbus_address|slave_(id|address)|unit_(id|address)|device_address|baud\w*|parity|\w*_parity|stop_?bits)($|_)"
)


def is_comms(name: str, point: Point) -> bool:
    """Writing this point changes how the device is reached (address, baud, parity, stop bits)."""
    return point.comms or bool(_COMMS_NAME.search(name))


def comms_warning(device: str, name: str, unit: int | None = None) -> str:
    where = f" at unit {unit}" if unit is not None else ""
    return (
        f"{device}.{name} is a communication setting: after this write the device{where} may answer "
        "only at another unit address, baud rate or parity, and the configured settings will no longer reach it"
    )


def written_value(point: Point, words: Sequence[int]) -> PointValue:
    """The value the register holds after ``words`` were written (what a read-back will show)."""
    try:
        return decode_point(point, list(words))
    except CodecError:
        return None


def differs(asked: PointValue, written: PointValue) -> bool:
    """The register got something else than asked: a rounded number (not a label or a bool)."""
    if isinstance(asked, bool) or isinstance(written, bool) or asked is None or written is None:
        return False
    if isinstance(asked, int | float) and isinstance(written, int | float):
        return float(asked) != float(written)
    return False


class ConcernKind(StrEnum):
    OUT_OF_RANGE = "out_of_range"
    READ_ONLY = "read_only"
    PARTIAL = "partial"
    COMMS = "comms"


@dataclass(frozen=True, slots=True)
class Concern:
    kind: ConcernKind
    point: str
    message: str


def _registers(table: Table) -> Table:
    # a raw write to holding registers lands on holding points, one to coils on coil points
    return Table.COIL if table is Table.COIL else Table.HOLDING


def _range_text(point: Point) -> str:
    low = "" if point.min is None else f"{point.min:g}"
    high = "" if point.max is None else f"{point.max:g}"
    return f"{low}..{high}" + (f" {point.unit}" if point.unit else "")


def raw_write_concerns(profile: Profile, table: Table, address: int, values: Sequence[int]) -> list[Concern]:
    """Each profile point the raw write ``values`` at ``table``/``address`` touches, and what is wrong."""
    first, end = address, address + len(values)
    concerns: list[Concern] = []
    for name, point in sorted(profile.points.items(), key=lambda item: item[1].address):
        if point.table is not _registers(table) or point.end <= first or point.address >= end:
            continue
        where = f"{point.table.value} {point.address} (0x{point.address:04X})"
        if is_comms(name, point):
            concerns.append(Concern(ConcernKind.COMMS, name, f"{name} at {where} is a communication setting"))
        if not point.access.writable:
            concerns.append(Concern(ConcernKind.READ_ONLY, name, f"{name} at {where} is read-only in {profile.id}"))
        if point.address < first or point.end > end:
            concerns.append(
                Concern(ConcernKind.PARTIAL, name, f"this writes only part of {name} ({point.type} at {where})")
            )
            continue
        words = values[point.address - first : point.end - first]
        value = written_value(point, words)
        if not isinstance(value, int | float) or isinstance(value, bool) or point.type is DataType.BITFIELD:
            continue
        if (point.min is not None and value < point.min) or (point.max is not None and value > point.max):
            unit = f" {point.unit}" if point.unit else ""
            concerns.append(
                Concern(
                    ConcernKind.OUT_OF_RANGE,
                    name,
                    f"{name} at {where} would become {value:g}{unit}, outside {profile.id}'s range "
                    f"{_range_text(point)}",
                )
            )
    return concerns
