"""The data items of the standard's tables that street-pole meters are read for.

A profile point names its DI; when it leaves out ``format``, ``unit`` or ``signed`` they come from
here. Formats and signs follow DL/T 645-2007 Appendix A (and the -1997 tables for 2-byte DIs):
instantaneous powers, currents and power factors carry their direction in the top bit; combined
energies (the meter's configured sum of import and export) are signed too.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.dlt645.di import DataId


@dataclass(frozen=True)
class StandardItem:
    name: str
    format: str
    unit: str | None = None
    signed: bool = False


def _phases(base: int, name: str, fmt: str, unit: str | None, signed: bool, total: bool) -> dict[int, StandardItem]:
    """``base`` + 0x0100 per phase (A, B, C), and the total at ``base`` itself when ``total``."""
    items = {
        base + 0x100 * n: StandardItem(f"{name} phase {phase}", fmt, unit, signed)
        for n, phase in ((1, "A"), (2, "B"), (3, "C"))
    }
    if total:
        items[base] = StandardItem(f"{name} total", fmt, unit, signed)
    return items


def _tariffs(base: int, name: str, unit: str, signed: bool) -> dict[int, StandardItem]:
    items = {base: StandardItem(f"{name} total", "XXXXXX.XX", unit, signed)}
    for tariff in range(1, 5):
        items[base + 0x100 * tariff] = StandardItem(f"{name} tariff {tariff}", "XXXXXX.XX", unit, signed)
    return items


_V2007: dict[int, StandardItem] = {
    **_tariffs(0x00000000, "combined active energy", "kWh", True),
    **_tariffs(0x00010000, "forward active energy", "kWh", False),
    **_tariffs(0x00020000, "reverse active energy", "kWh", False),
    **_tariffs(0x00030000, "combined reactive energy 1", "kvarh", True),
    **_tariffs(0x00040000, "combined reactive energy 2", "kvarh", True),
    **_phases(0x02010000, "voltage", "XXX.X", "V", False, total=False),
    **_phases(0x02020000, "current", "XXX.XXX", "A", True, total=False),
    **_phases(0x02030000, "active power", "XX.XXXX", "kW", True, total=True),
    **_phases(0x02040000, "reactive power", "XX.XXXX", "kvar", True, total=True),
    **_phases(0x02050000, "apparent power", "XX.XXXX", "kVA", True, total=True),
    **_phases(0x02060000, "power factor", "X.XXX", None, True, total=True),
    **_phases(0x02070000, "phase angle", "XXX.X", "deg", False, total=False),
    0x02800001: StandardItem("neutral current", "XXX.XXX", "A", True),
    0x02800002: StandardItem("grid frequency", "XX.XX", "Hz"),
    0x02800003: StandardItem("one-minute average active power", "XX.XXXX", "kW", True),
    0x02800004: StandardItem("active demand", "XX.XXXX", "kW", True),
    0x02800007: StandardItem("meter temperature", "XXX.X", "degC", True),
    0x02800008: StandardItem("clock battery voltage", "XX.XX", "V"),
    0x04000101: StandardItem("date and weekday", "YYMMDDWW"),
    0x04000102: StandardItem("time", "hhmmss"),
    0x04000401: StandardItem("communication address", "NNNNNNNNNNNN"),
    0x04000402: StandardItem("meter number", "NNNNNNNNNNNN"),
}

_V1997: dict[int, StandardItem] = {
    0x9010: StandardItem("forward active energy total", "XXXXXX.XX", "kWh"),
    0x9020: StandardItem("reverse active energy total", "XXXXXX.XX", "kWh"),
    0x9110: StandardItem("forward reactive energy total", "XXXXXX.XX", "kvarh"),
    0x9120: StandardItem("reverse reactive energy total", "XXXXXX.XX", "kvarh"),
    0xB611: StandardItem("voltage phase A", "XXX", "V"),
    0xB612: StandardItem("voltage phase B", "XXX", "V"),
    0xB613: StandardItem("voltage phase C", "XXX", "V"),
    0xB621: StandardItem("current phase A", "XX.XX", "A"),
    0xB622: StandardItem("current phase B", "XX.XX", "A"),
    0xB623: StandardItem("current phase C", "XX.XX", "A"),
    0xB630: StandardItem("active power total", "XX.XXXX", "kW"),
    0xB631: StandardItem("active power phase A", "XX.XXXX", "kW"),
    0xB632: StandardItem("active power phase B", "XX.XXXX", "kW"),
    0xB633: StandardItem("active power phase C", "XX.XXXX", "kW"),
    0xB640: StandardItem("reactive power total", "XX.XX", "kvar"),
    0xB650: StandardItem("power factor total", "X.XXX"),
    0xB651: StandardItem("power factor phase A", "X.XXX"),
    0xB652: StandardItem("power factor phase B", "X.XXX"),
    0xB653: StandardItem("power factor phase C", "X.XXX"),
    0xC010: StandardItem("date and weekday", "YYMMDDWW"),
    0xC011: StandardItem("time", "hhmmss"),
    0xC032: StandardItem("meter number", "NNNNNNNNNNNN"),
}


def standard_item(di: DataId) -> StandardItem | None:
    """The standard's definition of ``di``, when it is one of the items above."""
    return (_V2007 if di.width == 4 else _V1997).get(di.value)
