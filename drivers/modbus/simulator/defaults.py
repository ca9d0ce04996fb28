"""What a simulated point serves when nobody said: plausible values, so a demo never shows 0.000 Hz.

In order: the profile point's own ``simulate:`` hint; false for bits, ``SIM`` for text, the first
label of an enum, no flag set in a bitfield; the middle of a writable point's write range (a
setting); then by unit (mains voltage near 230 V, frequency near 50 Hz, an energy counter that
rises, humidity that drifts...); else a slow walk between 0 and 100 inside what the type holds.
Random walks are seeded from the point's name, so a run is repeatable.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from drivers.modbus.codec import raw_range
from drivers.modbus.generator_specs import (
    AnyGeneratorSpec,
    ConstantSpec,
    CounterSpec,
    RandomWalkSpec,
    SineSpec,
)
from drivers.modbus.profile import DataType, Point

__all__ = ["UNIT_DEFAULTS", "default_spec"]

_Make = Callable[[int], AnyGeneratorSpec]  # seed -> spec


def _walk(low: float, high: float, step: float, start: float | None = None) -> _Make:
    return lambda seed: RandomWalkSpec(min=low, max=high, step=step, start=start, seed=seed)


def _sine(offset: float, amplitude: float, period: float) -> _Make:
    return lambda seed: SineSpec(offset=offset, amplitude=amplitude, period=period, phase=(seed % 628) / 100)


def _counter(start: float, per_hour: float) -> _Make:
    return lambda seed: CounterSpec(start=start, per_hour=per_hour)


# unit (as profiles write it) -> what a street pole's device would plausibly read
UNIT_DEFAULTS: dict[str, tuple[str, _Make]] = {
    "V": ("mains voltage, 230 V +- 3", _sine(230.0, 3.0, 300.0)),
    "A": ("load current, walks 0.5..8 A", _walk(0.5, 8.0, 0.1, 1.5)),
    "W": ("active power, walks 50..2000 W", _walk(50.0, 2000.0, 20.0, 350.0)),
    "VA": ("apparent power, walks 50..2000 VA", _walk(50.0, 2000.0, 20.0, 380.0)),
    "VAr": ("reactive power, walks -200..200 VAr", _walk(-200.0, 200.0, 5.0, 40.0)),
    "Hz": ("mains frequency, 50 Hz +- 0.05", _sine(50.0, 0.05, 120.0)),
    "kWh": ("energy counter, rises 0.6 kWh an hour from 1234.5", _counter(1234.5, 0.6)),
    "kVArh": ("reactive energy counter, rises 0.1 an hour", _counter(210.0, 0.1)),
    "m³": ("volume counter, rises 1.5 m³ an hour", _counter(5230.0, 1.5)),
    "s": ("seconds counter (running time)", _counter(86400.0, 3600.0)),
    "%RH": ("relative humidity, walks 40..90 %", _walk(40.0, 90.0, 0.5, 65.0)),
    "°C": ("air or water temperature, 15 °C +- 3", _sine(15.0, 3.0, 900.0)),
    "%": ("a percentage, walks 20..80", _walk(20.0, 80.0, 1.0, 50.0)),
    "bar": ("pressure, 1.013 bar +- 0.005", _sine(1.013, 0.005, 600.0)),
    "kPa": ("air pressure, 101.3 kPa +- 0.3", _sine(101.3, 0.3, 1800.0)),
    "hPa": ("air pressure, 1013 hPa +- 3", _sine(1013.0, 3.0, 1800.0)),
    "m/s": ("speed, walks 0..12 m/s", _walk(0.0, 12.0, 0.3, 3.0)),
    "deg": ("an angle, walks -1..1 deg", _walk(-1.0, 1.0, 0.05, 0.3)),
    "lx": ("daylight, 20000 lx +- 15000", _sine(20000.0, 15000.0, 1200.0)),
    "W/m²": ("solar radiation, 400 W/m² +- 300", _sine(400.0, 300.0, 1200.0)),
    "µg/m³": ("particulates, walks 5..60 µg/m³", _walk(5.0, 60.0, 1.0, 18.0)),
    "dB(A)": ("street noise, 62 dB(A) +- 8", _sine(62.0, 8.0, 90.0)),
    "pH": ("water pH, walks 6.8..7.6", _walk(6.8, 7.6, 0.02, 7.2)),
    "mV": ("electrode potential, walks 100..300 mV", _walk(100.0, 300.0, 2.0, 180.0)),
    "g": ("acceleration, walks -0.05..0.05 g", _walk(-0.05, 0.05, 0.005, 0.02)),
    "°/s": ("rotation rate, walks -0.5..0.5 °/s", _walk(-0.5, 0.5, 0.05, 0.2)),
    "cm": ("distance, walks 150..400 cm", _walk(150.0, 400.0, 2.0, 250.0)),
    "mm": ("rain, rises 0.2 mm an hour from 2.4", _counter(2.4, 0.2)),
    "m³/h": ("flow, walks 0.5..5 m³/h", _walk(0.5, 5.0, 0.05, 2.0)),
}
_FALLBACK = (0.0, 100.0)  # a unitless number: a slow walk here, cut to what the type holds


def default_spec(name: str, point: Point) -> AnyGeneratorSpec:
    """What the simulator serves for ``point`` when the simulator spec gives it no generator."""
    if point.simulate is not None:
        return point.simulate
    if point.table.is_bit or point.type is DataType.BOOL:
        return ConstantSpec(value=False)
    if point.type is DataType.STRING:
        return ConstantSpec(value="SIM"[: point.length or 0])
    if point.enum:
        return ConstantSpec(value=point.enum[min(point.enum)])
    if point.type is DataType.BITFIELD:
        return ConstantSpec(value=0)  # no flag set: the healthy state
    if point.min is not None and point.max is not None:
        return ConstantSpec(value=(point.min + point.max) / 2)
    seed = zlib.crc32(name.encode())
    by_unit = UNIT_DEFAULTS.get(point.unit or "")
    if by_unit is not None:
        return by_unit[1](seed)
    low, high = raw_range(point)
    floor, ceiling = max(_FALLBACK[0], low), min(_FALLBACK[1], high)
    if floor >= ceiling:
        return ConstantSpec(value=floor)
    return RandomWalkSpec(min=floor, max=ceiling, step=(ceiling - floor) / 100, seed=seed)
