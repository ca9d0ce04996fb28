"""A simulated point nobody gave a generator serves a plausible value, never a flat 0.000 Hz."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from drivers.modbus.profile import DataType, Point, Profile, Table
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry
from drivers.modbus.simulator import SimulatedDevice
from tests.unit.profiles.profile_tree import write

SHIPPED = ProfileRegistry.load(DEFAULT_PROFILE_DIR, strict=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def numeric(point: Point) -> bool:
    return not point.table.is_bit and point.type not in (DataType.BOOL, DataType.STRING, DataType.BITFIELD) \
        and point.enum is None


def read(device: SimulatedDevice, point: Point) -> None:
    request = ReadInputRegistersRequest if point.table is Table.INPUT else ReadHoldingRegistersRequest
    assert not device.handle(request(address=point.address, count=point.register_count, dev_id=7)).isError()


def serve(profile: Profile, clock: Clock) -> SimulatedDevice:
    return SimulatedDevice(7, profile, clock=clock)


def test_the_demo_complaints() -> None:
    """`make demo` showed frequency 0.000 Hz, humidity 0.000 %, import_energy 0.000 kWh."""
    clock = Clock()
    meter = serve(SHIPPED.get("eastron/sdm120"), clock)
    weather = serve(SHIPPED.get("renke/rs-fsxcs-n01"), clock)
    frequency = meter.profile.points["frequency"]
    energy = meter.profile.points["import_energy"]
    humidity = weather.profile.points["humidity"]
    seen: dict[str, list[float]] = {"frequency": [], "import_energy": [], "humidity": []}
    for _ in range(40):
        clock.now += 90.0
        for device, name, point in ((meter, "frequency", frequency), (meter, "import_energy", energy),
                                    (weather, "humidity", humidity)):
            read(device, point)
            value = device.value_of(name)
            assert isinstance(value, float)
            seen[name].append(value)
    assert all(49.9 <= f <= 50.1 for f in seen["frequency"]) and len(set(seen["frequency"])) > 1
    assert seen["import_energy"][0] > 0 and seen["import_energy"] == sorted(seen["import_energy"])
    assert seen["import_energy"][-1] > seen["import_energy"][0]  # a counter that rises
    assert all(20 <= h <= 100 for h in seen["humidity"]) and len(set(seen["humidity"])) > 1  # it drifts


@pytest.mark.parametrize("profile_id", SHIPPED.ids())
def test_no_readable_number_of_a_shipped_profile_serves_zero(profile_id: str) -> None:
    """Every readable number is non-zero unless its profile says so (a bus status of 0 means OK)."""
    profile = SHIPPED.get(profile_id)
    clock = Clock()
    device = serve(profile, clock)
    zero = []
    for name, point in profile.points.items():
        if not point.access.readable or not numeric(point):
            continue
        read(device, point)
        value = device.value_of(name)
        assert isinstance(value, int | float) and math.isfinite(value)
        if value == 0 and point.simulate is None:
            zero.append(name)
    assert zero == []


@pytest.mark.parametrize("profile_id", SHIPPED.ids())
def test_simulated_defaults_raise_no_alarm(profile_id: str) -> None:
    """A newcomer's first demo shows quiet values, not alarms the simulator made up."""
    profile = SHIPPED.get(profile_id)
    clock = Clock()
    device = serve(profile, clock)
    for _ in range(20):
        clock.now += 37.0
        for name, alarm in profile.alarms.items():
            point = profile.points[alarm.point]
            read(device, point)
            value = device.value_of(alarm.point)
            assert isinstance(value, int | float)
            compared = abs(value) if alarm.absolute else value
            assert alarm.above is None or compared <= alarm.above, f"{name}: {value}"
            assert alarm.below is None or compared >= alarm.below, f"{name}: {value}"


def test_a_new_profile_gets_values_from_its_units(tmp_path: Path) -> None:
    write(
        tmp_path,
        "acme/pole",
        """\
        vendor: Acme
        model: Pole
        source: x
        points:
          mains: {table: input, address: 0, type: float32, unit: V}
          hz: {table: input, address: 2, type: uint16, scale: 0.01, unit: Hz}
          energy: {table: input, address: 3, type: uint32, scale: 0.1, unit: kWh}
          level: {table: holding, address: 0, type: uint16, access: rw, min: 0, max: 100}
          count: {table: input, address: 5, type: uint16}
          frequency_hint: {table: input, address: 6, type: float32, unit: Hz, simulate: 60}
        """,
    )
    profile = ProfileRegistry.load(tmp_path, strict=True).get("acme/pole")
    device = serve(profile, Clock())
    values = {}
    for name, point in profile.points.items():
        read(device, point)
        values[name] = device.value_of(name)
    assert 220 < values["mains"] < 240 and 49.9 <= values["hz"] <= 50.1 and values["energy"] > 0  # type: ignore[operator]
    assert values["level"] == 50 and 0 < values["count"] <= 100  # type: ignore[operator]
    assert values["frequency_hint"] == 60


def test_the_unit_table_has_a_default_for_every_unit_of_a_shipped_readable_number() -> None:
    from drivers.modbus.simulator.defaults import UNIT_DEFAULTS

    missing = set()
    for profile in SHIPPED.all():
        for point in profile.points.values():
            if point.access.readable and numeric(point) and point.unit and point.simulate is None \
                    and point.min is None and point.unit not in UNIT_DEFAULTS:
                missing.add(point.unit)
    assert missing == set()


def test_an_explicit_generator_still_wins() -> None:
    profile = SHIPPED.get("eastron/sdm120")
    device = SimulatedDevice(7, profile, {"frequency": 0.0})
    read(device, profile.points["frequency"])
    assert device.value_of("frequency") == 0.0
    from drivers.modbus.simulator.defaults import default_spec

    assert default_spec("frequency", profile.points["frequency"]).kind == "sine"
