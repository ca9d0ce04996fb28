"""``edgepost simulate`` as a process: a spec file, a pty, fault commands on stdin, clean exit."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusIOException

from tests.fixtures.serial import socat_pty_pair

pytestmark = pytest.mark.hardware

PROFILE = """\
vendor: Acme
model: Lamp
source: integration test
points:
  level: {table: holding, address: 4, type: uint16, access: rw, min: 0, max: 100}
  temperature: {table: input, address: 0, type: int16, scale: 0.1}
"""

SPEC = """\
profiles_dir: {profiles}
buses:
  - serial: {{port: {port}, baud: 38400}}
    devices:
      - unit: 3
        profile: acme/lamp
        points:
          temperature: {{kind: sequence, values: [21.5, 22.0]}}
"""


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    (tmp_path / "profiles" / "acme").mkdir(parents=True)
    (tmp_path / "profiles" / "acme" / "lamp.yaml").write_text(PROFILE)
    with socat_pty_pair() as (master, slave):
        spec = tmp_path / "sim.yaml"
        spec.write_text(SPEC.format(profiles=tmp_path / "profiles", port=slave))
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli.main", "simulate", "--spec", str(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(2)]
            assert lines[-1].strip() == "ready", lines
            assert "3=acme/lamp" in lines[0]
            yield master, proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


def test_serves_the_spec_and_switches_faults_from_stdin(simulator: tuple[str, subprocess.Popen[str]]) -> None:
    port, proc = simulator
    assert proc.stdin is not None and proc.stdout is not None
    client = ModbusSerialClient(port, baudrate=38400, timeout=0.3, retries=0)
    assert client.connect()
    try:
        temperatures = [client.read_input_registers(0, count=1, device_id=3).registers[0] for _ in range(2)]
        assert temperatures == [220, 215]
        proc.stdin.write("fault 3 silent\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "unit 3: faults silent"
        with pytest.raises(ModbusIOException):
            client.read_input_registers(0, count=1, device_id=3)
        proc.stdin.write("fault 3 none\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "unit 3: faults none"
        assert not client.write_register(4, 80, device_id=3).isError()
        assert client.read_holding_registers(4, count=1, device_id=3).registers == [80]
    finally:
        client.close()
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    assert proc.wait(timeout=10) == 0


def test_a_bad_spec_is_one_line_per_problem_and_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "sim.yaml"
    spec.write_text("buses:\n  - serial: {port: /dev/null}\n    devices: [{unit: 0, profile: x/y}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "simulate", "--spec", str(spec)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"edgepost: error: {spec}:3:16 buses[0].devices[0].unit:"), result.stderr
    assert "Traceback" not in result.stderr
