"""Modbus driver config: defaults, and errors that name file:line:col and the field path."""

from __future__ import annotations

import pytest

from agent.config import parse_config
from agent.errors import ConfigError
from drivers.modbus.config import ModbusDriverConfig, SerialBus, TcpBus

HEAD = """gateway: {id: pole-17}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {transport: serial, name: line1, port: /dev/ttyUSB0, baudrate: 19200, parity: E}
      - {transport: tcp, name: plc, host: 127.0.0.1, port: 1502, max_connections: 2}
      - {transport: rtu-over-tcp, name: gw, host: 127.0.0.1}
    devices:
"""


def problems(devices: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD + devices, "config.yaml")
    return info.value.problems


def test_valid_config_parses_with_defaults() -> None:
    config = parse_config(
        HEAD
        + """      - {name: meter, bus: line1, unit_id: 1, profile: eastron/sdm120}
      - name: lamp
        bus: gw
        unit_id: 2
        profile: witmotion/wt901c-485
        points: {roll: {period: 5}, pitch: {deadband: 2.5}}
        alarms: {cover_tilt_roll: {above: 8}, cover_tilt_pitch: {enabled: false}}
""",
        "config.yaml",
    )
    (driver,) = config.drivers
    assert isinstance(driver, ModbusDriverConfig)
    serial, tcp, rtu = driver.buses
    assert isinstance(serial, SerialBus) and isinstance(tcp, TcpBus) and isinstance(rtu, TcpBus)
    assert serial.frame_gap_s == pytest.approx(3.5 * 11 / 19200)
    assert tcp.max_connections == 2 and rtu.transport == "rtu-over-tcp" and rtu.port == 502
    lamp = driver.devices[1]
    selection = lamp.selected_points()
    assert selection is not None and selection["roll"].period == 5
    assert lamp.alarms["cover_tilt_pitch"].enabled is False
    assert driver.devices[0].selected_points() is None


def test_unit_id_out_of_range_names_file_line_and_field() -> None:
    found = problems(
        """      - {name: a, bus: line1, unit_id: 1, profile: x/y}
      - {name: b, bus: line1, unit_id: 2, profile: x/y}
      - {name: c, bus: line1, unit_id: 300, profile: x/y}
"""
    )
    assert found == ["config.yaml:12:31 drivers[0].devices[2].unit_id: must be 1..247, got 300"]


def test_unknown_bus_is_reported_on_the_bus_field() -> None:
    found = problems("      - {name: a, bus: line9, unit_id: 1, profile: x/y}\n")
    assert found == [
        "config.yaml:10:19 drivers[0].devices[0].bus: no bus named 'line9' (buses: gw, line1, plc), got 'line9'"
    ]


def test_duplicate_device_names_and_units() -> None:
    found = problems(
        """      - {name: a, bus: line1, unit_id: 1, profile: x/y}
      - {name: a, bus: line1, unit_id: 2, profile: x/y}
      - {name: b, bus: line1, unit_id: 1, profile: x/y}
"""
    )
    assert found[0].startswith("config.yaml:11:10 drivers[0].devices[1].name: two devices are named 'a'")
    assert found[1] == (
        "config.yaml:12:31 drivers[0].devices[2].unit_id: unit 1 on bus 'line1' is already used by 'a', got 1"
    )


def test_unknown_keys_and_bad_serial_settings() -> None:
    found = problems(
        """      - {name: a, bus: line1, unit_id: 1, profile: x/y, colour: red}
"""
    )
    assert found == ["config.yaml:10:57 drivers[0].devices[0].colour: unknown key"]
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD.replace("parity: E", "parity: X"), "config.yaml")
    assert info.value.problems[0].startswith("config.yaml:6:")
    assert "drivers[0].buses[0].parity: Input should be 'N', 'E' or 'O'" in info.value.problems[0]
