"""`make demo`: every point the demo's agent polls is served a plausible, non-zero value."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from agent.config import parse_config
from drivers.dlt645.config import Dlt645DriverConfig
from drivers.dlt645.frame import Frame
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.profile import Table
from drivers.modbus.simulator.generators import CounterSpec, make_source
from drivers.modbus.simulator.serve import build_servers
from drivers.modbus.simulator.spec import parse_spec
from tests.demo import AGENT_CONFIG, SIM_SPEC


def test_no_point_of_the_demo_shows_zero(tmp_path: Path) -> None:
    spec, doc = parse_spec(SIM_SPEC.format(port="/dev/null"), "<demo simulator>")
    (server,) = build_servers(spec, doc)
    text = AGENT_CONFIG.format(state=tmp_path, port="/dev/null", mqtt_port=1883)
    drivers = parse_config(text).drivers
    driver = next(d for d in drivers if isinstance(d, ModbusDriverConfig))
    meters = next(d for d in drivers if isinstance(d, Dlt645DriverConfig))
    shown: dict[str, object] = {}
    for device in driver.devices:
        simulated = server.devices[device.unit_id]
        for name in device.selected_points() or {}:
            point = simulated.profile.points[name]
            request = ReadInputRegistersRequest if point.table is Table.INPUT else ReadHoldingRegistersRequest
            assert not simulated.handle(request(address=point.address, count=point.register_count,
                                                dev_id=device.unit_id)).isError()
            shown[f"{device.name}.{name}"] = simulated.value_of(name)
    assert server.meter_responder is not None
    for meter in meters.devices:  # the DL/T 645 meter on the same line
        served = server.meter_responder.meters[meter.address]
        for name in meter.selected_points() or {}:
            di = served.profile.points[name].data_id
            reply = served.handle(Frame(served.address.wire, di.edition.read_data, di.wire))
            assert reply is not None and not reply.is_abnormal
            shown[f"{meter.name}.{name}"] = served.value_of(name)
    assert {k: v for k, v in shown.items() if v in (0, 0.0)} == {}, shown
    assert 220 < shown["pole-meter.voltage"] < 240  # type: ignore[operator]
    assert 49 < shown["meter.frequency"] < 51  # type: ignore[operator]
    assert shown["meter.import_energy"] > 0 and 0 < shown["weather.humidity"] < 100  # type: ignore[operator]


def test_the_demo_water_meter_runs_its_tap_long_enough_for_the_care_rule(tmp_path: Path) -> None:
    # the live check that the alarm reaches the broker: tests/integration/agent/test_demo_care.py
    config = parse_config(AGENT_CONFIG.format(state=tmp_path, port="/dev/null", mqtt_port=1883))
    (flow,) = config.care.rules()
    assert (flow.device, flow.point, flow.kind) == ("flat-0301", "positive_total", "continuous_flow")
    (driver,) = [d for d in config.drivers if isinstance(d, ModbusDriverConfig)]  # the DL/T 645 meter has its own
    (meter,) = [d for d in driver.devices if d.name == flow.device]
    assert (meter.selected_points() or {}).keys() == {"positive_total"}
    spec, _ = parse_spec(SIM_SPEC.format(port="/dev/null"), "<demo simulator>")
    (served,) = [d for bus in spec.buses for d in bus.devices if d.unit == meter.unit_id]
    script = served.points["positive_total"]
    assert isinstance(script, CounterSpec)
    counter = make_source(script)
    seen = [counter.value(float(t)) for t in range(61)]
    assert all(b > a for a, b in pairwise(seen[:46]))  # open: a rise every second
    assert len(set(seen[45:])) == 1  # shut after 45 s: no rise, the rule clears
    assert flow.hours * 3600 + 2 * flow.interval_s < 45  # the raise comes well before the tap closes
