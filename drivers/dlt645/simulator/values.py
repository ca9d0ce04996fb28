"""What a simulated meter serves: the Modbus simulator's generators, plausible defaults, the format's range."""

from __future__ import annotations

from datetime import datetime

from agent.records import PointValue
from drivers.dlt645 import bcd
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.profile import Dlt645Point
from drivers.modbus.simulator.generators import (
    ConstantSpec,
    CounterSpec,
    RandomWalkSpec,
    SequenceSpec,
    SineSpec,
    ValueSource,
    make_source,
)

GeneratorLike = ConstantSpec | SineSpec | RandomWalkSpec | CounterSpec | SequenceSpec | ValueSource | PointValue

# engineering values a street-pole meter shows, by unit (what a read returns without a generator)
_BY_UNIT: dict[str, float] = {
    "V": 230.0,
    "A": 5.0,
    "kW": 1.15,
    "kvar": 0.2,
    "kVA": 1.2,
    "Hz": 50.0,
    "kWh": 1234.56,
    "kvarh": 123.45,
    "degC": 25.0,
    "deg": 0.0,
}
_POWER_FACTOR = 0.95


class _Now:
    """Date and time items (``YYMMDDWW``, ``hhmmss``) from the host's clock."""

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt

    def value(self, now_s: float) -> PointValue:
        now = datetime.now()
        if self._fmt == "YYMMDDWW":
            return now.strftime("%y%m%d") + f"{(now.isoweekday() % 7):02d}"  # 00 = Sunday
        return now.strftime("%H%M%S")


def as_source(given: GeneratorLike) -> ValueSource:
    if isinstance(given, ConstantSpec | SineSpec | RandomWalkSpec | CounterSpec | SequenceSpec):
        return make_source(given)
    if given is None or isinstance(given, bool | int | float | str):
        return make_source(ConstantSpec(value=given if given is not None else 0))
    return given


def default_source(point: Dlt645Point, address: MeterAddress) -> ValueSource:
    fmt = point.data_format
    if fmt.kind == "digits":
        if fmt.text in ("YYMMDDWW", "hhmmss"):
            return _Now(fmt.text)
        if fmt.digits == 12:
            return make_source(ConstantSpec(value=address.digits))  # address, meter number
        return make_source(ConstantSpec(value="0" * fmt.digits))
    if point.unit in _BY_UNIT:
        value = _BY_UNIT[point.unit]
    elif point.unit is None and fmt.text == "X.XXX":
        value = _POWER_FACTOR
    else:
        value = 0.0
    return make_source(ConstantSpec(value=fit(point, value)))


def fit(point: Dlt645Point, value: PointValue) -> PointValue:
    """Clamp numeric generator output into what the item's format holds (a sine may overshoot)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    low, high = bcd.value_range(point.data_format, point.signed)
    return min(max(value, low * point.scale), high * point.scale)
