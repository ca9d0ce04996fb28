"""The scripted counter: a water meter's totaliser following a script of use."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError
from pymodbus.pdu.register_message import ReadInputRegistersRequest

from drivers.modbus.codec import decode_point
from drivers.modbus.simulator import CounterSpec, CounterStep, ScriptedCounter, SimulatedDevice
from drivers.modbus.simulator.generators import GeneratorSpec, make_source
from drivers.modbus.simulator.spec import parse_spec
from tests.unit.simulator.sim_profiles import meter_profile

ADAPTER: TypeAdapter[GeneratorSpec] = TypeAdapter(GeneratorSpec)


def test_the_value_rises_at_each_steps_rate_and_holds_the_last_one() -> None:
    counter = ScriptedCounter(CounterSpec(start=100, script=[
        CounterStep(seconds=10, rate=0), CounterStep(seconds=5, rate=2), CounterStep(rate=0.5)
    ]))
    assert [counter.at(t) for t in (0, 10, 12, 15, 19)] == [100, 100, 104, 110, 112]


def test_a_script_without_an_open_end_holds_its_last_rate_and_a_repeated_one_plays_again() -> None:
    once = ScriptedCounter(CounterSpec(script=[CounterStep(seconds=2, rate=1), CounterStep(seconds=2, rate=0)]))
    assert [once.at(t) for t in (1, 2, 4, 10)] == [1, 2, 2, 2]
    again = ScriptedCounter(CounterSpec(repeat=True, script=[CounterStep(seconds=2, rate=1),
                                                             CounterStep(seconds=2, rate=0)]))
    assert [again.at(t) for t in (1, 2, 4, 5, 9, 13)] == [1, 2, 2, 3, 5, 7]


def test_wrap_and_set_model_a_rolled_dial_and_a_swapped_meter() -> None:
    dial = ScriptedCounter(CounterSpec(start=9998, wrap=10000, script=[CounterStep(rate=1)]))
    assert [dial.at(t) for t in (0, 1, 2, 3)] == [9998, 9999, 0, 1]
    swapped = ScriptedCounter(CounterSpec(start=800, script=[CounterStep(seconds=10, rate=1),
                                                             CounterStep(set=0.5, rate=1)]))
    assert [swapped.at(t) for t in (10, 11, 12)] == [810, 1.5, 2.5]
    with_set = ScriptedCounter(CounterSpec(repeat=True, start=5, script=[CounterStep(seconds=2, rate=1, set=0)]))
    assert [with_set.at(t) for t in (0, 1, 2, 3)] == [0, 1, 0, 1]


def test_the_script_starts_at_the_first_read() -> None:
    source = make_source(CounterSpec(script=[CounterStep(seconds=5, rate=1), CounterStep(rate=0)]))
    assert [source.value(t) for t in (100, 101, 105, 200)] == [0, 1, 5, 5]


def test_spec_errors() -> None:
    ADAPTER.validate_python({"kind": "counter", "script": [{"seconds": 3, "rate": 1}, {"rate": 0}]})
    with pytest.raises(ValidationError, match="only the last step"):
        ADAPTER.validate_python({"kind": "counter", "script": [{"rate": 1}, {"rate": 0}]})
    with pytest.raises(ValidationError, match="repeats"):
        ADAPTER.validate_python({"kind": "counter", "repeat": True, "script": [{"rate": 1}]})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        ADAPTER.validate_python({"kind": "counter", "script": [{"rate": -1}]})
    with pytest.raises(ValidationError, match="either 'per_hour' or a 'script'"):
        ADAPTER.validate_python({"kind": "counter", "per_hour": 2, "script": [{"rate": 1}]})
    with pytest.raises(ValidationError, match="'repeat' needs a 'script'"):
        ADAPTER.validate_python({"kind": "counter", "repeat": True})


def test_without_a_script_the_counter_rises_per_hour_since_the_device_started_and_wraps() -> None:
    steady = make_source(CounterSpec(start=10, per_hour=3600))
    assert [steady.value(t) for t in (0, 5, 100)] == [10, 15, 110]
    wrapped = make_source(CounterSpec(start=90, per_hour=3600, wrap=100))
    assert [wrapped.value(t) for t in (0, 9, 15)] == [90, 99, 5]


def test_a_simulated_meter_serves_the_script_and_a_yaml_spec_takes_it() -> None:
    profile = meter_profile()
    clock = [0.0]
    script = CounterSpec(start=1000, script=[CounterStep(seconds=60, rate=2), CounterStep(rate=0)])
    device = SimulatedDevice(1, profile, {"energy": script}, clock=lambda: clock[0])
    seen = []
    for now in (10.0, 30.0, 90.0):
        clock[0] = now
        words = device.handle(ReadInputRegistersRequest(address=10, count=2)).registers  # type: ignore[attr-defined]
        seen.append(decode_point(profile.points["energy"], words))
    assert seen == [1020, 1060, 1120]
    spec, _ = parse_spec(
        "buses:\n  - tcp: {port: 0}\n    devices:\n      - unit: 1\n        profile: oem/tuf-2000m\n"
        "        points:\n          positive_total: {kind: counter, start: 5, script: [{seconds: 60, rate: 1}]}\n",
        "sim.yaml",
    )
    generator = spec.buses[0].devices[0].points["positive_total"]
    assert isinstance(generator, CounterSpec) and generator.script is not None and generator.script[0].seconds == 60
