"""``edgepost write`` as a technician runs it (a subprocess on a pty, no daemon) against the simulator.

Issue 8 item 4: a write whose reply is late was applied, but nothing confirmed it: the command says
so with its own exit code (8) and does not send it again. Item 5: unit 0 is a broadcast. Every
device applies it and none answers, so the command asks first (``--yes`` skips that), reports it
as sent, and refuses reads to unit 0 without putting anything on the wire.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from agent.cli.exit_codes import ExitCode
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import SimulatedBus, SimulatedDevice
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair

pytestmark = pytest.mark.hardware

DIMMER = ProfileRegistry.load().get("waveshare/analog-output-8ch-b")


class Line:
    def __init__(self, port: str, bus: SimulatedBus, devices: dict[int, SimulatedDevice], config: Path) -> None:
        self.port, self.bus, self.devices, self.config = port, bus, devices, config

    def edgepost(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        script = Path(sys.executable).parent / "edgepost"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli.main"]
        return subprocess.run(
            [*command, "--config", str(self.config), *args], input=stdin, capture_output=True, text=True, timeout=120
        )

    def raw(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return self.edgepost(*args, "--port", self.port, "--baud", "19200", "--timeout", "1.0", stdin=stdin)


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """The simulator runs in its own thread: what the CLI sent may still be on its way."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the simulator"
        time.sleep(0.05)


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Line]:
    """Two dimmers on a 19200-baud pty: unit 3 answers writes 1.3 s late, unit 4 is prompt."""
    devices = {3: SimulatedDevice(3, DIMMER, faults=["slow-write:1300"]), 4: SimulatedDevice(4, DIMMER)}
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, list(devices.values()), baud=19200) as bus:
        config = tmp_path / "config.yaml"
        config.write_text(
            "gateway: {id: pole-1}\n"
            f"state_dir: {tmp_path / 'state'}\n"
            "drivers:\n"
            "  - driver: modbus\n"
            "    name: rs485\n"
            f"    buses: [{{transport: serial, name: bus1, port: {master}, baudrate: 19200, timeout_s: 1.0,"
            " retries: 2}]\n"
            "    devices:\n"
            "      - {name: lamp, bus: bus1, unit_id: 3, profile: waveshare/analog-output-8ch-b}\n"
            "      - {name: lamp2, bus: bus1, unit_id: 4, profile: waveshare/analog-output-8ch-b}\n"
        )
        yield Line(master, bus, devices, config)


def test_unconfirmed_point_write_exits_8_and_is_not_resent(line: Line) -> None:
    done = line.edgepost("write", "lamp", "dim_1", "7.5")
    assert done.returncode == ExitCode.OUTCOME_UNKNOWN, done.stderr
    assert "may or may not have been applied" in done.stderr and "not sent again" in done.stderr
    assert "Traceback" not in done.stderr
    wait_until(lambda: line.devices[3].value_of("dim_1") == pytest.approx(7.5))  # applied all the same
    assert line.bus.stats.writes == 1
    # the technician reads it back, as the message says, and sees it applied
    back = line.edgepost("--json", "read", "lamp", "dim_1")
    assert back.returncode == 0 and orjson.loads(back.stdout)["value"] == pytest.approx(7.5)


def test_unconfirmed_point_write_with_verify_is_settled_by_the_read_back(line: Line) -> None:
    done = line.edgepost("write", "lamp", "dim_1", "2.5", "--verify")
    assert done.returncode == 0, done.stderr
    assert "(verified)" in done.stdout
    assert line.bus.stats.writes == 1


def test_broadcast_write_with_yes_is_sent_and_applied_by_every_device(line: Line) -> None:
    done = line.raw("--json", "write", "--unit", "0", "--address", "1", "--yes", "4000")
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == {
        "unit": 0, "table": "holding", "address": 1, "values": [4000], "broadcast": True, "outcome": "sent",
    }
    wait_until(lambda: line.bus.stats.writes == 1)
    assert [d.value_of("dim_2") for d in line.devices.values()] == [pytest.approx(4.0), pytest.approx(4.0)]
    assert line.bus.stats.requests == 1 and line.bus.stats.answered == 0


def test_broadcast_write_asks_first(line: Line) -> None:
    declined = line.raw("write", "--unit", "0", "--address", "2", "1000", stdin="n\n")
    assert declined.returncode == ExitCode.FAILED
    assert "broadcast" in declined.stderr and "not sent" in declined.stderr
    accepted = line.raw("write", "--unit", "0", "--address", "2", "1000", stdin="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "sent" in accepted.stdout
    wait_until(lambda: line.bus.stats.writes >= 1)
    assert line.bus.stats.requests == 1, "the declined broadcast reached the wire"
    assert [d.value_of("dim_3") for d in line.devices.values()] == [pytest.approx(1.0), pytest.approx(1.0)]


def test_read_of_unit_0_is_refused_before_the_wire(line: Line) -> None:
    done = line.raw("read", "--unit", "0", "--address", "0")
    assert done.returncode == ExitCode.USAGE
    assert "broadcast" in done.stderr
    after = line.raw("read", "--unit", "4", "--address", "0")
    assert after.returncode == 0, after.stderr
    wait_until(lambda: line.bus.stats.requests >= 1)
    assert line.bus.stats.requests == line.bus.stats.answered == 1, "the read of unit 0 reached the wire"
