"""Profile points as driver-neutral ``PointSpec``s (the value type after scaling and enum labels)."""

from __future__ import annotations

from collections.abc import Iterable

from drivers.base import PointSpec
from drivers.modbus.profile import DataType, Point, Profile


def value_type(point: Point) -> str:
    """The type of the values the codec emits for ``point`` (see codec.decode_point)."""
    if point.table.is_bit or point.type is DataType.BOOL:
        return "bool"
    if point.type is DataType.STRING or point.enum is not None:
        return "string"  # enum points carry their label (an unlabelled raw value is sent as its digits)
    if point.type is DataType.BITFIELD:
        return "uint16"
    if point.scale != 1.0 or point.offset != 0.0:
        return "float64"
    return str(point.type)


def point_specs_of(profile: Profile, polled: Iterable[str]) -> list[PointSpec]:
    """Polled points, then writable ones that are not polled (they still take writes by name)."""
    names = list(dict.fromkeys([*polled, *(n for n, p in profile.points.items() if p.access.writable)]))
    specs = []
    for name in names:
        point = profile.points[name]
        specs.append(
            PointSpec(
                name=name,
                type=value_type(point),
                unit=point.unit,
                low=point.min,
                high=point.max,
                writable=point.access.writable and point.table.writable,
                description=point.description,
            )
        )
    return specs
