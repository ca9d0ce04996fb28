"""`make demo`: every point the demo's agent polls is served a plausible, non-zero value."""

from __future__ import annotations

from pathlib import Path

from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from agent.config import parse_config
from drivers.dlt645.config import Dlt645DriverConfig
from drivers.dlt645.frame import Frame
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.profile import Table
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
