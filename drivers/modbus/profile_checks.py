"""Semantic checks of a resolved profile: what pydantic's field types cannot see.

Each problem is one ``file:line:col path: message`` line, positioned on the value that is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator

from agent.yamlsource import YamlDocument
from drivers.modbus.codec import raw_range
from drivers.modbus.profile import REGISTER_COUNT, DataType, Point, Profile, Table
from drivers.modbus.profile_firmware import parse_version
from drivers.modbus.profile_source import problem

INTEGER_TYPES = frozenset(
    {DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32, DataType.INT64, DataType.UINT64}
)

Found = Iterator[tuple[list[str | int], str]]  # (path, message) pairs


def check_profile(profile: Profile, doc: YamlDocument, skipped_points: Collection[str] = ()) -> list[str]:
    """Problems pydantic cannot see. ``skipped_points`` failed validation: alarms on them are not unknown."""
    found: list[tuple[list[str | int], str]] = []
    for name, point in profile.points.items():
        for check in _POINT_CHECKS:
            found.extend(check(name, point, profile))
    found.extend(_overlaps(profile))
    found.extend(_alarms(profile, skipped_points))
    found.extend(_firmware(profile))
    found.extend(_identification(profile))
    problems = [(doc.position(path), problem(doc, path, message)) for path, message in found]
    return [text for _, text in sorted(problems, key=lambda item: (item[1].split(":", 1)[0], item[0]))]


def _length(name: str, point: Point, profile: Profile) -> Found:
    if point.type is DataType.STRING:
        if point.length is None:
            yield ["points", name, "type"], "a string needs 'length' (in bytes)"
        return
    if point.length is None or point.table.is_bit:
        return
    registers = REGISTER_COUNT[point.type]
    if point.length in (registers, 2 * registers):  # registers or bytes: both say the same size
        return
    size = f"{registers} register{'s' if registers > 1 else ''} ({2 * registers} bytes)"
    if point.type is DataType.FLOAT32 and point.length % 2 == 1:
        yield ["points", name, "length"], f"float32 takes {size}, length {point.length} is odd"
    else:
        yield ["points", name, "length"], f"{point.type} takes {size}, length {point.length} disagrees"


def _bit_table(name: str, point: Point, profile: Profile) -> Found:
    if point.table.is_bit and point.type is not DataType.BOOL:
        yield ["points", name, "type"], f"a {point.table} point must be bool, got {point.type}"


def _access(name: str, point: Point, profile: Profile) -> Found:
    if point.access.writable and not point.table.writable:
        yield (
            ["points", name, "access"],
            f"the {point.table} table is read-only, access must be 'r', got '{point.access}'",
        )


def _write_range(name: str, point: Point, profile: Profile) -> Found:
    if point.min is None and point.max is None:
        return
    if point.type is DataType.STRING:
        yield ["points", name, "min" if point.min is not None else "max"], "a string point has no min/max"
        return
    low, high = raw_range(point)
    holds = f"{point.type}"
    if point.scale != 1.0 or point.offset != 0.0:
        holds += f" with scale {point.scale:g} and offset {point.offset:g}"
    for key, value in (("min", point.min), ("max", point.max)):
        if value is not None and not low <= value <= high:
            yield ["points", name, key], f"{value:g} is outside what {holds} can hold ({low:g}..{high:g})"
    if point.min is not None and point.max is not None and point.min > point.max:
        yield ["points", name, "min"], f"min {point.min:g} is above max {point.max:g}"


def _labels(name: str, point: Point, profile: Profile) -> Found:
    if point.enum is not None:
        if point.type not in INTEGER_TYPES:
            yield ["points", name, "enum"], f"enum labels need an integer type, got {point.type}"
        elif len(set(point.enum.values())) != len(point.enum):
            yield ["points", name, "enum"], "enum labels must be unique"
    if point.bits is not None:
        if point.type is not DataType.BITFIELD:
            yield ["points", name, "bits"], f"bits need type bitfield, got {point.type}"
        for bit in point.bits:
            if not 0 <= bit <= 15:
                yield ["points", name, "bits", str(bit)], f"bit numbers are 0..15, got {bit}"


def _extent(name: str, point: Point, profile: Profile) -> Found:
    if point.end > 0x10000:
        yield ["points", name, "address"], f"{point.register_count} registers from {point.address} run past 65535"
    limit = profile.limits.max_bits if point.table.is_bit else profile.limits.max_registers
    if point.register_count > limit:
        yield ["points", name, "type"], f"needs {point.register_count} registers, above the device limit {limit}"


_POINT_CHECKS: list[Callable[[str, Point, Profile], Found]] = [
    _length,
    _bit_table,
    _access,
    _write_range,
    _labels,
    _extent,
]


def _overlaps(profile: Profile) -> Found:
    by_table: dict[Table, list[tuple[str, Point]]] = {}
    for name, point in profile.points.items():
        by_table.setdefault(point.table, []).append((name, point))
    for table, entries in by_table.items():
        entries.sort(key=lambda entry: (entry[1].address, entry[0]))
        widest: tuple[str, Point] | None = None
        for name, point in entries:
            if widest is not None and point.address < widest[1].end:
                other, seen = widest
                yield (
                    ["points", name, "address"],
                    (f"{table} {_span(point)} overlaps points.{other} ({table} {_span(seen)})"),
                )
            if widest is None or point.end > widest[1].end:
                widest = (name, point)


def _span(point: Point) -> str:
    last = point.end - 1
    return str(point.address) if last == point.address else f"{point.address}..{last}"


def _alarms(profile: Profile, skipped_points: Collection[str]) -> Found:
    for name, alarm in profile.alarms.items():
        point = profile.points.get(alarm.point)
        if point is None and alarm.point in skipped_points:
            continue
        if point is None:
            close = difflib.get_close_matches(alarm.point, list(profile.points), n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            yield ["alarms", name, "point"], f"unknown point '{alarm.point}'{hint}"
        elif point.type is DataType.STRING or point.enum is not None:
            yield ["alarms", name, "point"], f"an alarm needs a numeric point, '{alarm.point}' is not"


def _firmware(profile: Profile) -> Found:
    bounds = {}
    for key in ("min", "max"):
        text = getattr(profile.firmware, key)
        if text is None:
            continue
        try:
            bounds[key] = parse_version(text)
        except ValueError as exc:
            yield ["firmware", key], str(exc)
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        yield ["firmware", "min"], f"min {profile.firmware.min} is above max {profile.firmware.max}"


def _identification(profile: Profile) -> Found:
    for index, reg in enumerate(profile.identification.registers):
        path: list[str | int] = ["identification", "registers", index]
        if reg.type is DataType.STRING and reg.length is None:
            yield [*path, "type"], "a string needs 'length' (in bytes)"
        if reg.table.is_bit and reg.type is not DataType.BOOL:
            yield [*path, "type"], f"a {reg.table} register must be bool, got {reg.type}"
