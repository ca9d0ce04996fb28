"""Registers <-> engineering values for one profile point. Pure functions, no I/O.

Decoding order: check the word count, put the registers in most-significant-first order (word
order), lay out each register's two bytes (byte order), unpack the type, then apply
``raw * scale + offset``. Encoding is the exact inverse. Coil/discrete points travel as ``[0]``/``[1]``.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable, Sequence
from decimal import Decimal

from agent.errors import PermanentError
from agent.records import PointValue
from drivers.modbus.profile import DataType, Endian, Point

__all__ = [
    "CodecError",
    "decode_bits",
    "decode_point",
    "encode_point",
    "point_decoder",
    "raw_range",
    "shortest_float32",
]


class CodecError(PermanentError):
    """Registers do not fit a point, or a value does not fit its type."""


# struct format character of every fixed-size register type
_FORMAT: dict[DataType, str] = {
    DataType.BOOL: "H",
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.BITFIELD: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}

INT_RANGE: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.BITFIELD: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}

FLOAT_MAX: dict[DataType, float] = {
    DataType.FLOAT32: struct.unpack(">f", b"\x7f\x7f\xff\xff")[0],
    DataType.FLOAT64: 1.7976931348623157e308,
}

_FLOATS = (DataType.FLOAT32, DataType.FLOAT64)


@functools.lru_cache(maxsize=1024)
def _decimals(number: float) -> int:
    """Decimal places of a profile constant as written (0.01 -> 2, 1e-05 -> 5, 10 -> 0)."""
    exponent = Decimal(repr(number)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _scaled(point: Point) -> bool:
    return point.scale != 1.0 or point.offset != 0.0


# ---------------------------------------------------------------------------------------- layout


def _words_to_bytes(point: Point, words: Sequence[int]) -> bytes:
    """Registers as they came off the wire -> bytes, most significant first."""
    ordered = list(words) if point.word_order is Endian.BIG else list(reversed(words))
    fmt = ">" if point.byte_order is Endian.BIG else "<"
    try:
        return struct.pack(f"{fmt}{len(ordered)}H", *ordered)
    except struct.error:
        raise CodecError(f"register values must be 0..65535, got {list(words)}") from None


def _bytes_to_words(point: Point, data: bytes) -> list[int]:
    fmt = ">" if point.byte_order is Endian.BIG else "<"
    words = list(struct.unpack(f"{fmt}{len(data) // 2}H", data))
    return words if point.word_order is Endian.BIG else words[::-1]


# ---------------------------------------------------------------------------------------- decode


def decode_point(point: Point, words: Sequence[int]) -> PointValue:
    """The engineering value of ``point`` from its own registers (or ``[bit]`` for coil/discrete)."""
    if point.table.is_bit:
        if len(words) != 1:
            raise CodecError(f"a {point.table} point takes 1 bit, got {len(words)}")
        return bool(words[0])
    expected = point.register_count
    if len(words) != expected:
        raise CodecError(f"{point.type} at {point.address} takes {expected} registers, got {len(words)}")
    data = _words_to_bytes(point, words)
    if point.type is DataType.STRING:
        text = data[: point.length or 0].decode("latin-1")
        return text.rstrip("\x00 ")
    raw = struct.unpack(">" + _FORMAT[point.type], data)[0]
    if point.type is DataType.BOOL:
        return bool(raw)
    if point.type is DataType.BITFIELD:
        return int(raw)
    if point.enum is not None and not isinstance(raw, float):
        label = point.enum.get(raw)
        if label is not None:
            return label
        return int(raw)
    return _to_engineering(point, raw)


def _to_engineering(point: Point, raw: int | float) -> int | float:
    if isinstance(raw, float) and point.type is DataType.FLOAT32:
        raw = shortest_float32(raw)  # the device meant 231.4, not 231.39999389648438
    if not _scaled(point):
        return raw
    if isinstance(raw, int):
        # trim binary noise: 2301 * 0.1 is 230.1, not 230.10000000000002
        return round(raw * point.scale + point.offset, max(_decimals(point.scale), _decimals(point.offset)))
    if not math.isfinite(raw):
        return raw * point.scale + point.offset
    # decimal arithmetic on the numbers as written: 231.4 * 0.1 is 23.14, not 23.140000000000001
    return float(Decimal(repr(raw)) * Decimal(repr(point.scale)) + Decimal(repr(point.offset)))


def shortest_float32(value: float) -> float:
    """The float with the fewest significant digits that is still the same float32 as ``value``.

    A float32 holds 6 to 9 significant decimal digits; widened to a Python float it prints all 17
    of the binary value. Trying 1..9 digits finds what the device's firmware computed (231.4).

    Each try is ``float(f"{value:.{digits}g}")`` computed in integers (this runs for every float32
    reading; formatting was most of a poll's decoding): ``value`` is exactly num/den, rounded to
    ``digits`` significant digits half to even as the formatting does, then converted with Python's
    correctly rounded int -> float.
    """
    if not math.isfinite(value) or value == 0.0 or abs(value) > _F32_MAX:
        return value
    pack, p10 = _F32.pack, _POW10
    target = pack(value)
    num, den = abs(value).as_integer_ratio()
    lead = math.floor(math.log10(abs(value)))  # then made exact: 10**lead <= |value| < 10**(lead + 1)
    while (num < den * p10[lead]) if lead >= 0 else (num * p10[-lead] < den):
        lead -= 1
    while (num >= den * p10[lead + 1]) if lead >= -1 else (num * p10[-lead - 1] >= den):
        lead += 1
    for digits in range(1, 10):
        scale = lead - digits + 1  # the candidate is an integer times 10**scale
        if scale >= 0:
            unit = den * p10[scale]
            q, r = divmod(num, unit)
        else:
            unit = den
            q, r = divmod(num * p10[-scale], den)
        if 2 * r > unit or (2 * r == unit and q & 1):
            q += 1
        candidate = float(q * p10[scale]) if scale >= 0 else q / p10[-scale]
        if value < 0:
            candidate = -candidate
        # beyond the largest float32 a candidate would not pack (nor be accepted by a write)
        if abs(candidate) <= _F32_MAX and pack(candidate) == target:
            return candidate
    return value  # 9 digits always round-trip; kept for a value that is not a float32 at all


_POW10 = tuple(10**i for i in range(100))  # float32 magnitudes span 1e-45 .. 3.4e38
_F32_MAX = FLOAT_MAX[DataType.FLOAT32]
_F32 = struct.Struct(">f")


def point_decoder(point: Point) -> Callable[[Sequence[int]], PointValue]:
    """``decode_point`` for one point, its layout and formats resolved once: a poller decodes the same
    points every cycle (the hot path of a driver with many devices)."""
    if point.table.is_bit or point.type in _NOT_COMPILED or point.enum is not None:
        return functools.partial(decode_point, point)
    count = point.register_count
    layout = struct.Struct(f"{'>' if point.byte_order is Endian.BIG else '<'}{count}H").pack
    value = struct.Struct(">" + _FORMAT[point.type]).unpack
    swap = point.word_order is not Endian.BIG
    # _to_engineering's branches, decided once: most points are neither float32 nor scaled
    plain = not _scaled(point) and point.type is not DataType.FLOAT32
    last_data, last_value = b"", None  # the last registers and their value: a reading that did not move

    def decode(words: Sequence[int]) -> PointValue:
        nonlocal last_data, last_value
        if len(words) != count:
            raise CodecError(f"{point.type} at {point.address} takes {count} registers, got {len(words)}")
        try:
            data = layout(*reversed(words)) if swap else layout(*words)
        except struct.error:
            raise CodecError(f"register values must be 0..65535, got {list(words)}") from None
        if data == last_data:
            return last_value
        raw = value(data)[0]
        last_value = raw if plain else _to_engineering(point, raw)
        last_data = data
        return last_value

    return decode


_NOT_COMPILED = (DataType.STRING, DataType.BOOL, DataType.BITFIELD)


def decode_bits(point: Point, raw: int) -> dict[str, bool]:
    """Named flags of a bitfield value (bit 0 = least significant)."""
    return {name: bool((raw >> bit) & 1) for bit, name in sorted((point.bits or {}).items())}


# ---------------------------------------------------------------------------------------- encode


def encode_point(point: Point, value: PointValue) -> list[int]:
    """Registers (or ``[bit]``) that make ``point`` read back as ``value``."""
    if point.table.is_bit or point.type is DataType.BOOL:
        return [1 if _as_bool(value) else 0]
    if point.type is DataType.STRING:
        return _encode_string(point, value)
    fmt = ">" + _FORMAT[point.type]
    if point.type in _FLOATS:
        raw: int | float = _float_raw(point, value)
    else:
        raw = _int_raw(point, value)
    try:
        data = struct.pack(fmt, raw)
    except (struct.error, OverflowError):
        raise CodecError(f"{value!r} does not fit {point.type}") from None
    return _bytes_to_words(point, data)


def _as_bool(value: PointValue) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise CodecError(f"expected a boolean (true/false or 0/1), got {value!r}")


def _number(value: PointValue) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"expected a number, got {value!r}")
    return value


def _int_raw(point: Point, value: PointValue) -> int:
    if isinstance(value, str) and point.enum is not None:
        for raw, label in point.enum.items():
            if label == value:
                return raw
        raise CodecError(f"{value!r} is not one of {sorted(point.enum.values())}")
    number = _number(value)
    if isinstance(number, int) and not _scaled(point):
        raw = number
    else:
        if not math.isfinite(number):
            raise CodecError(f"{value!r} does not fit {point.type}")
        raw = round((number - point.offset) / point.scale)
    low, high = INT_RANGE[point.type]
    if not low <= raw <= high:
        lo_eng, hi_eng = raw_range(point)
        raise CodecError(f"{value!r} is outside what {point.type} holds here ({lo_eng:g}..{hi_eng:g})")
    return raw


def _float_raw(point: Point, value: PointValue) -> float:
    number = float(_number(value))
    raw = (number - point.offset) / point.scale if _scaled(point) else number
    if math.isfinite(raw) and abs(raw) > FLOAT_MAX[point.type]:
        raise CodecError(f"{value!r} is outside what {point.type} holds")
    return raw


def _encode_string(point: Point, value: PointValue) -> list[int]:
    if not isinstance(value, str):
        raise CodecError(f"expected a string, got {value!r}")
    try:
        data = value.encode("latin-1")
    except UnicodeEncodeError:
        raise CodecError(f"{value!r} has characters outside latin-1") from None
    length = point.length or 0
    if len(data) > length:
        raise CodecError(f"{value!r} is longer than {length} bytes")
    padded = data.ljust(point.register_count * 2, b"\x00")
    return _bytes_to_words(point, padded)


# ---------------------------------------------------------------------------------------- range


def raw_range(point: Point) -> tuple[float, float]:
    """Lowest and highest engineering value the point's type can hold after scale and offset."""
    if point.table.is_bit or point.type is DataType.BOOL:
        return (0.0, 1.0)
    if point.type is DataType.STRING:
        raise CodecError("a string point has no numeric range")
    if point.type is DataType.BITFIELD:
        low, high = INT_RANGE[DataType.BITFIELD]
        return (float(low), float(high))
    if point.type in _FLOATS:
        low_raw, high_raw = -FLOAT_MAX[point.type], FLOAT_MAX[point.type]
        ends = (float(low_raw) * point.scale + point.offset, float(high_raw) * point.scale + point.offset)
    else:
        low_int, high_int = INT_RANGE[point.type]
        ends = (float(_to_engineering(point, low_int)), float(_to_engineering(point, high_int)))
    return (min(ends), max(ends))
