"""Sparkplug datatypes: from a driver's neutral point type or a value, and values into metrics.

Integers travel as two's complement in ``int_value`` (uint32; Int8/16/32, UInt8/16/32) or
``long_value`` (uint64; Int64, UInt64), as the spec's datatype details say. A value that does not fit
the declared datatype is never squeezed into it: ``widen`` names a datatype that holds both, and the
device is born again with it (the caller's job), so a host never reads a wrapped or truncated number.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from agent.records import JsonValue
from agent.uplink.sparkplug.proto import pb

INT_RANGES: dict[int, tuple[int, int]] = {
    pb.Int8: (-(2**7), 2**7 - 1),
    pb.Int16: (-(2**15), 2**15 - 1),
    pb.Int32: (-(2**31), 2**31 - 1),
    pb.Int64: (-(2**63), 2**63 - 1),
    pb.UInt8: (0, 2**8 - 1),
    pb.UInt16: (0, 2**16 - 1),
    pb.UInt32: (0, 2**32 - 1),
    pb.UInt64: (0, 2**64 - 1),
}
NEUTRAL: dict[str, int] = {
    "bool": pb.Boolean,
    "int8": pb.Int8,
    "int16": pb.Int16,
    "int32": pb.Int32,
    "int64": pb.Int64,
    "uint8": pb.UInt8,
    "uint16": pb.UInt16,
    "uint32": pb.UInt32,
    "uint64": pb.UInt64,
    "float32": pb.Float,
    "float64": pb.Double,
    "string": pb.String,
}
_LONG = (pb.Int64, pb.UInt64)


def from_neutral(type_name: str) -> int:
    """The datatype of a driver ``PointSpec.type``; String for a type this table does not know."""
    return NEUTRAL.get(type_name, int(pb.String))


def infer(value: Any) -> int:
    """The datatype of a value first seen in data (a point the driver did not declare)."""
    if isinstance(value, bool):
        return int(pb.Boolean)
    if isinstance(value, int):
        return int(pb.Int64) if INT_RANGES[pb.Int64][0] <= value <= INT_RANGES[pb.Int64][1] else int(pb.Double)
    if isinstance(value, float):
        return int(pb.Double)
    return int(pb.String)


def fits(datatype: int, value: Any) -> bool:
    """Whether ``value`` is sent exactly as ``datatype`` (None fits every type: it is sent as is_null)."""
    if value is None:
        return True
    if datatype == pb.Boolean:
        return isinstance(value, bool)
    if datatype in INT_RANGES:
        low, high = INT_RANGES[datatype]
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if datatype == pb.Float:
        # float32 keeps about 7 digits: only values that survive the round trip are sent as Float
        return isinstance(value, int | float) and not isinstance(value, bool) and _float32_exact(float(value))
    if datatype == pb.Double:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return datatype in (pb.String, pb.Text)  # anything can be sent as its text


def _float32_exact(value: float) -> bool:
    if math.isnan(value) or math.isinf(value):
        return True
    try:
        return bool(struct.unpack("<f", struct.pack("<f", value))[0] == value)
    except OverflowError:
        return False


def widen(datatype: int, value: Any) -> int:
    """A datatype that holds ``value`` and the values ``datatype`` held before."""
    if isinstance(value, bool | str) or datatype in (pb.Boolean, pb.String):
        return int(pb.String)
    if datatype in INT_RANGES and isinstance(value, int):
        return int(pb.Int64) if fits(pb.Int64, value) and not _unsigned_big(datatype) else int(pb.Double)
    return int(pb.Double)


def _unsigned_big(datatype: int) -> bool:
    return bool(datatype == pb.UInt64)


def as_text(value: JsonValue) -> str:
    return value if isinstance(value, str) else str(value)


def set_metric_value(metric: Any, datatype: int, value: Any) -> None:
    """Fill the value oneof of ``metric`` (a ``Payload.Metric``); None sets ``is_null``."""
    if value is None:
        metric.is_null = True
        return
    if datatype == pb.Boolean:
        metric.boolean_value = bool(value)
    elif datatype in _LONG:
        metric.long_value = int(value) & 0xFFFF_FFFF_FFFF_FFFF
    elif datatype in INT_RANGES:
        metric.int_value = int(value) & 0xFFFF_FFFF
    elif datatype == pb.Float:
        metric.float_value = float(value)
    elif datatype == pb.Double:
        metric.double_value = float(value)
    else:
        metric.string_value = as_text(value)


def set_property(value_msg: Any, value: Any) -> None:
    """Fill a ``PropertyValue`` from a Python value (String, Double, Int64/UInt64 or Boolean)."""
    if isinstance(value, bool):
        value_msg.type = pb.Boolean
        value_msg.boolean_value = value
    elif isinstance(value, int):
        value_msg.type = pb.UInt64 if value >= 0 else pb.Int64
        value_msg.long_value = value & 0xFFFF_FFFF_FFFF_FFFF
    elif isinstance(value, float):
        value_msg.type = pb.Double
        value_msg.double_value = value
    else:
        value_msg.type = pb.String
        value_msg.string_value = as_text(value)


_SIGNED32: dict[int, int] = {pb.Int8: 8, pb.Int16: 16, pb.Int32: 32}


def metric_value(metric: Any, datatype: int) -> Any:
    """The Python value of a received metric (NCMD/DCMD), read as ``datatype``; None when null or empty."""
    field = metric.WhichOneof("value")
    if metric.is_null or field is None:
        return None
    if field == "int_value":
        raw = int(metric.int_value)
        bits = _SIGNED32.get(datatype)
        if bits is not None:
            raw &= (1 << bits) - 1
            return raw - (1 << bits) if raw >= 1 << (bits - 1) else raw
        return raw
    if field == "long_value":
        raw = int(metric.long_value)
        return raw - (1 << 64) if datatype == pb.Int64 and raw >= 1 << 63 else raw
    if field in ("float_value", "double_value", "boolean_value", "string_value"):
        return getattr(metric, field)
    return None
