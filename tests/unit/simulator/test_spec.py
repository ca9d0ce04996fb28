"""The simulate spec: YAML shapes, shorthand, and errors that name file:line and the field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import SimulatedBus, SimulatedTcpServer
from drivers.modbus.simulator.generators import ConstantSpec, SineSpec
from drivers.modbus.simulator.serve import build_servers
from drivers.modbus.simulator.spec import load_spec, parse_spec

GOOD = """\
buses:
  - serial: {port: /dev/null, baud: 19200, parity: E}
    devices:
      - unit: 1
        profile: acme/meter
        points:
          voltage: {kind: sine, amplitude: 4, period: 60, offset: 230}
          current: 1.5
        faults: ["slow:20"]
  - tcp: {host: 127.0.0.1, port: 0, framing: rtu, wire_timing: true}
    devices: [{unit: 2, profile: acme/meter, holes: allow}]
"""

TCP_LINE = "  - tcp: {host: 127.0.0.1, port: 0, framing: rtu, wire_timing: true}"

PROFILE = """\
vendor: Acme
model: Meter
source: unit test
points:
  voltage: {table: input, address: 0, type: float32}
  current: {table: input, address: 2, type: uint16, scale: 0.01}
"""


@pytest.fixture
def registry(tmp_path: Path) -> ProfileRegistry:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "meter.yaml").write_text(PROFILE)
    return ProfileRegistry.load(tmp_path, strict=True)


def test_a_good_spec_builds_its_servers(registry: ProfileRegistry) -> None:
    spec, doc = parse_spec(GOOD, "sim.yaml")
    device = spec.buses[0].devices[0]
    assert isinstance(device.points["voltage"], SineSpec)
    assert device.points["current"] == ConstantSpec(value=1.5)
    servers = build_servers(spec, doc, registry)
    assert isinstance(servers[0], SimulatedBus)
    assert servers[0].timing.bits_per_char == 11
    assert str(servers[0].devices[1].faults) == "slow:20"
    assert isinstance(servers[1], SimulatedTcpServer)
    assert servers[1].framing == "rtu"
    assert servers[1].timing is not None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD.replace("unit: 2", "unit: 300"), "sim.yaml:11:16 buses[1].devices[0].unit: Input should be less"),
        (GOOD.replace('"slow:20"', '"sleepy"'), "sim.yaml:9:9 buses[0].devices[0].faults: unknown fault 'sleepy'"),
        (GOOD.replace("period: 60", "period: -1"), "sim.yaml:7:47 buses[0].devices[0].points.voltage.period"),
        (GOOD.replace("baud: 19200", "bawd: 19200"),
         "sim.yaml:2:31 buses[0].serial.bawd: unknown key (did you mean 'baud'?)"),
        (GOOD.replace(TCP_LINE + "\n    devices", "  - devices"),
         "sim.yaml:10:5 buses[1]: give exactly one of 'serial' or 'tcp'"),
    ],
)
def test_bad_specs_name_the_file_line_and_field(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec(text, "sim.yaml")
    assert any(p.startswith(problem) or problem in p for p in caught.value.problems), caught.value.problems


def test_unknown_profiles_and_points_are_reported_at_the_device(registry: ProfileRegistry) -> None:
    text = GOOD.replace("profile: acme/meter\n", "profile: acme/metre\n").replace("current: 1.5", "amps: 1")
    spec, doc = parse_spec(text, "sim.yaml")
    with pytest.raises(ConfigError) as caught:
        build_servers(spec, doc, registry)
    assert caught.value.problems[0].startswith("sim.yaml:4:9 buses[0].devices[0]: unknown profile 'acme/metre'")
    spec, doc = parse_spec(GOOD.replace("current: 1.5", "amps: 1"), "sim.yaml")
    with pytest.raises(ConfigError, match=r"no such points \['amps'\]"):
        build_servers(spec, doc, registry)


def test_a_relative_profiles_dir_is_relative_to_the_spec_file(tmp_path: Path) -> None:
    spec_file = tmp_path / "sim.yaml"
    spec_file.write_text("profiles_dir: profiles\n" + GOOD)
    spec, _ = load_spec(spec_file)
    assert spec.profiles_dir == tmp_path / "profiles"
