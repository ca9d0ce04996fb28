"""`make demo`: every point the demo's agent polls is served a plausible, non-zero value."""

from __future__ import annotations

from pathlib import Path

from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from agent.config import parse_config
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.profile import Table
from drivers.modbus.simulator.serve import build_servers
from drivers.modbus.simulator.spec import parse_spec
from tests.demo import AGENT_CONFIG, SIM_SPEC


def test_no_point_of_the_demo_shows_zero(tmp_path: Path) -> None:
    spec, doc = parse_spec(SIM_SPEC.format(port="/dev/null"), "<demo simulator>")
    (server,) = build_servers(spec, doc)
    text = AGENT_CONFIG.format(state=tmp_path, port="/dev/null", mqtt_port=1883)
    (driver,) = parse_config(text).drivers
    assert isinstance(driver, ModbusDriverConfig)
    shown: dict[str, object] = {}
    for device in driver.devices:
        simulated = server.devices[device.unit_id]
        for name in device.selected_points() or {}:
            point = simulated.profile.points[name]
            request = ReadInputRegistersRequest if point.table is Table.INPUT else ReadHoldingRegistersRequest
            assert not simulated.handle(request(address=point.address, count=point.register_count,
                                                dev_id=device.unit_id)).isError()
            shown[f"{device.name}.{name}"] = simulated.value_of(name)
    assert {k: v for k, v in shown.items() if v in (0, 0.0)} == {}, shown
    assert 49 < shown["meter.frequency"] < 51  # type: ignore[operator]
    assert shown["meter.import_energy"] > 0 and 0 < shown["weather.humidity"] < 100  # type: ignore[operator]
