"""The edgepost command with no daemon: it opens the serial port itself (socat pty + simulator)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import serial

from agent.cli.exit_codes import ExitCode
from agent.cli.main import main
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedDevice
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair

pytestmark = [pytest.mark.hardware, pytest.mark.skipif(not Path("/usr/bin/socat").exists(), reason="needs socat")]


@pytest.fixture(scope="module")
def bus() -> Iterator[str]:
    """A 9600-baud simulated bus: SDM120 meter at unit 1, Y504 probe at unit 2; yields the master pty."""
    registry = ProfileRegistry.load()
    devices = [
        SimulatedDevice(1, registry.get("eastron/sdm120"), {"voltage": ConstantSpec(value=231.5)}),
        SimulatedDevice(2, registry.get("yosemitech/y504")),
    ]
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, devices, baud=9600):
        yield master


@pytest.fixture
def config(tmp_path: Path, bus: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "gateway: {id: pole-1}\n"
        f"state_dir: {tmp_path / 'state'}\n"
        "drivers:\n"
        "  - driver: modbus\n"
        "    name: rs485\n"
        f"    buses: [{{transport: serial, name: bus1, port: {bus}, baudrate: 9600, timeout_s: 0.5}}]\n"
        "    devices: [{name: meter1, bus: bus1, unit_id: 1, profile: eastron/sdm120}]\n"
    )
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, object]:
    code = main(["--json", *args])
    out = capsys.readouterr().out
    return code, orjson.loads(out) if out.strip() else None


def test_scan_finds_and_names_the_simulated_devices(bus: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "scan", "--port", bus, "--baud", "9600", "--parity", "N", "--units", "1-3")
    assert code == 0
    assert isinstance(data, dict)
    found = {row["unit"]: row["profile"] for row in data["found"]}
    assert found == {1: "eastron/sdm120", 2: "yosemitech/y504"}


def test_scan_of_silent_units_exits_4(bus: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "scan", "--port", bus, "--baud", "9600", "--parity", "N", "--units", "5-6")
    assert code == ExitCode.NO_ANSWER
    assert data == {"port": bus, "found": [], "skipped": []}


def test_probe_names_the_profile(bus: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "probe", "--port", bus, "--unit", "2")
    assert code == 0
    assert isinstance(data, dict) and data["matches"][0]["profile"] == "yosemitech/y504"


def test_raw_write_then_read_back(bus: str, capsys: pytest.CaptureFixture[str]) -> None:
    # demand_period is a float32 at holding 2..3: 15.0 is 0x4170 0x0000
    assert main(["write", "--port", bus, "--unit", "1", "--address", "2", "0x4170", "0"]) == 0
    capsys.readouterr()
    code, data = run_json(capsys, "read", "--port", bus, "--unit", "1", "--address", "2", "--count", "2")
    assert code == 0
    assert isinstance(data, dict) and data["values"] == [0x4170, 0]


def test_raw_read_of_a_silent_unit_exits_4(bus: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "--port", bus, "--unit", "9", "--address", "0", "--timeout", "0.3"]) == ExitCode.NO_ANSWER
    err = capsys.readouterr().err
    assert err.startswith("edgepost: error: ") and len(err.splitlines()) == 1


def test_illegal_address_answers_exception_exit_5(bus: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "--port", bus, "--unit", "1", "--address", "40000", "--table", "input"]) == ExitCode.REFUSED
    assert "exception 2" in capsys.readouterr().err


def test_point_read_and_validated_write_by_name(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "-c", str(config), "read", "meter1", "voltage")
    assert code == 0
    assert isinstance(data, dict) and data["value"] == pytest.approx(231.5) and data["unit"] == "V"
    assert main(["-c", str(config), "write", "meter1", "demand_period", "30", "--verify"]) == 0
    capsys.readouterr()
    code, data = run_json(capsys, "-c", str(config), "read", "meter1", "demand_period")
    assert isinstance(data, dict) and data["value"] == 30
    # out of the profile's range: refused before anything reaches the wire
    assert main(["-c", str(config), "write", "meter1", "demand_period", "99"]) == ExitCode.REFUSED
    assert "demand_period" in capsys.readouterr().err
    assert main(["-c", str(config), "write", "meter1", "voltage", "1"]) == ExitCode.REFUSED


def test_a_port_held_by_another_process_is_not_opened(bus: str) -> None:
    """Two masters corrupt an RS-485 bus: the CLI refuses a port some other process has open."""
    with serial.Serial(bus, 9600, timeout=0.1):
        done = subprocess.run(
            [sys.executable, "-m", "agent.cli.main", "read", "--port", bus, "--unit", "1", "--address", "0"],
            capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == ExitCode.FAILED
    assert "held by" in done.stderr and "Traceback" not in done.stderr
