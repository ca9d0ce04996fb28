"""Control codes and abnormal-reply error bits of DL/T 645-2007 and -1997.

The control byte is ``D7`` direction (1 = reply), ``D6`` abnormal reply, ``D5`` follow-up frames,
``D4..D0`` function. A normal reply is ``request | 0x80``, an abnormal one ``request | 0xC0`` with
one error byte whose bits say what was wrong.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

REPLY = 0x80
ABNORMAL = 0x40
FOLLOWS = 0x20
FUNCTION_MASK = 0x1F


class Edition(StrEnum):
    """Which DL/T 645: 4-byte data identifiers (2007) or 2-byte ones (1997)."""

    V2007 = "2007"
    V1997 = "1997"

    @property
    def di_width(self) -> int:
        return 4 if self is Edition.V2007 else 2

    @property
    def read_data(self) -> Function:
        return Function.READ_DATA if self is Edition.V2007 else Function.READ_DATA_1997


class Function(IntEnum):
    BROADCAST_TIME = 0x08  # both editions; to 999999999999, never answered
    READ_DATA_1997 = 0x01
    READ_DATA = 0x11
    READ_FOLLOWING = 0x12
    READ_ADDRESS = 0x13  # 2007 only; to AAAAAAAAAAAA, one meter on the line
    WRITE_DATA = 0x14
    WRITE_ADDRESS = 0x15
    FREEZE = 0x16
    CHANGE_BAUD = 0x17
    CHANGE_PASSWORD = 0x18
    CLEAR_DEMAND = 0x19
    CLEAR_METER = 0x1A
    CLEAR_EVENTS = 0x1B
    RELAY_CONTROL = 0x1C  # trip/close/alarm/keep-power, password + operator code


def function_name(code: int) -> str:
    try:
        return Function(code & FUNCTION_MASK).name.lower()
    except ValueError:
        return f"function {code & FUNCTION_MASK:#04x}"


class ErrorKind(StrEnum):
    """What an abnormal reply's error byte says, one member per bit set."""

    OTHER = "other"  # 2007 bit 0
    NO_DATA = "no_data"  # 2007 bit 1: no data requested / the item does not exist
    UNAUTHORISED = "unauthorised"  # bit 2: password wrong or not authorised
    BAUD_UNCHANGEABLE = "baud_unchangeable"  # 2007 bit 3
    YEAR_ZONES_EXCEEDED = "year_zones_exceeded"  # bit 4
    DAY_PERIODS_EXCEEDED = "day_periods_exceeded"  # bit 5
    TARIFFS_EXCEEDED = "tariffs_exceeded"  # bit 6
    ILLEGAL_DATA = "illegal_data"  # 1997 bit 0
    UNKNOWN_DI = "unknown_di"  # 1997 bit 1
    RESERVED = "reserved"  # a bit the edition leaves reserved


_BITS: dict[Edition, dict[int, ErrorKind]] = {
    Edition.V2007: {
        0x01: ErrorKind.OTHER,
        0x02: ErrorKind.NO_DATA,
        0x04: ErrorKind.UNAUTHORISED,
        0x08: ErrorKind.BAUD_UNCHANGEABLE,
        0x10: ErrorKind.YEAR_ZONES_EXCEEDED,
        0x20: ErrorKind.DAY_PERIODS_EXCEEDED,
        0x40: ErrorKind.TARIFFS_EXCEEDED,
    },
    Edition.V1997: {
        0x01: ErrorKind.ILLEGAL_DATA,
        0x02: ErrorKind.UNKNOWN_DI,
        0x04: ErrorKind.UNAUTHORISED,
        0x10: ErrorKind.YEAR_ZONES_EXCEEDED,
        0x20: ErrorKind.DAY_PERIODS_EXCEEDED,
        0x40: ErrorKind.TARIFFS_EXCEEDED,
    },
}


def error_kinds(error_byte: int, edition: Edition = Edition.V2007) -> tuple[ErrorKind, ...]:
    """The kinds whose bits are set, in bit order; a zero byte (no bit) says ``other``."""
    table = _BITS[edition]
    kinds = [table.get(1 << bit, ErrorKind.RESERVED) for bit in range(8) if error_byte & (1 << bit)]
    return tuple(dict.fromkeys(kinds)) or (ErrorKind.OTHER,)


def error_byte(kinds: tuple[ErrorKind, ...] | list[ErrorKind], edition: Edition = Edition.V2007) -> int:
    """The error byte that says ``kinds`` (the simulator's side)."""
    bits = {kind: bit for bit, kind in _BITS[edition].items()}
    value = 0
    for kind in kinds:
        if kind not in bits:
            raise ValueError(f"DL/T 645-{edition} has no error bit for {kind}")
        value |= bits[kind]
    return value
