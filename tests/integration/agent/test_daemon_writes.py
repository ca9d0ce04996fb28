"""Issue 8, items 4 and 5 through the running daemon: `edgepost run`, its control socket, mosquitto.

Two dimmers share a pty line with the simulator: unit 3 applies writes at once and answers them
1.3 s later (``slow-write``), unit 4 is prompt. Through the daemon's bus, a write the dimmer never
confirmed in time is reported as unknown (CLI exit 8, downlink result ``unknown``) and sent once; a
broadcast reaches both dimmers and is reported as sent; a read of unit 0 never reaches the wire.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.cli.exit_codes import ExitCode
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import SimulatedBus, SimulatedDevice
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.agent.conftest import wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]

DIMMER = ProfileRegistry.load().get("waveshare/analog-output-8ch-b")

CONFIG = """
gateway: {{id: it-pole, site: test}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 19200, timeout_s: 1.0, retries: 2}}
    devices:
      - {{name: lamp, bus: bus1, unit_id: 3, profile: waveshare/analog-output-8ch-b, period_s: 3600, points: [dim_8]}}
      - {{name: lamp2, bus: bus1, unit_id: 4, profile: waveshare/analog-output-8ch-b, period_s: 3600, points: [dim_8]}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
commands: {{writable: ["lamp.dim_*"]}}
"""


def edgepost(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "edgepost"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli.main"]
    return subprocess.run([*command, "--config", str(config), *args], capture_output=True, text=True, timeout=120)


def eventually(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, timeout=30, what=what)


@pytest.fixture
def line() -> Iterator[tuple[str, SimulatedBus, dict[int, SimulatedDevice]]]:
    devices = {3: SimulatedDevice(3, DIMMER, faults=["slow-write:1300"]), 4: SimulatedDevice(4, DIMMER)}
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, list(devices.values()), baud=19200) as bus:
        yield master, bus, devices


@pytest.mark.timeout(300)
def test_unconfirmed_and_broadcast_writes_through_the_daemon(line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, bus, devices = line
    state, config = tmp_path / "state", tmp_path / "config.yaml"
    log_path = tmp_path / "agent.log"
    with Mosquitto(tmp_path) as broker, broker.collector("edgepost/it-pole/cmd-result") as results:
        config.write_text(CONFIG.format(state=state, port=port, mqtt_port=broker.port))
        script = Path(sys.executable).parent / "edgepost"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli.main"]
        with log_path.open("ab") as log:
            agent = subprocess.Popen([*command, "--config", str(config), "run"], stdout=log, stderr=log)
        try:
            wait_until(lambda: "event=agent_ready" in log_path.read_text(errors="replace"), 60, "agent ready")
            eventually(lambda: bus.stats.requests >= 1, "the first poll")

            # item 4: through the control socket, the CLI's own message and exit code; sent once
            done = edgepost(config, "write", "lamp", "dim_1", "7.5")
            assert done.returncode == ExitCode.OUTCOME_UNKNOWN, done.stderr
            assert "may or may not have been applied" in done.stderr
            eventually(lambda: devices[3].value_of("dim_1") == pytest.approx(7.5), "the write applied")
            assert bus.stats.writes == 1

            # item 4: a downlink write_point command answers "unknown"
            client = paho.Client(CallbackAPIVersion.VERSION2)
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            try:
                cmd = {"id": "w-1", "expires_at": time.time() + 120, "kind": "write_point", "device": "lamp",
                       "point": "dim_1", "value": 3.0}
                client.publish("edgepost/it-pole/cmd/w-1", orjson.dumps(cmd), qos=1).wait_for_publish(10)
            finally:
                client.loop_stop()
                client.disconnect()
            eventually(lambda: len(results.snapshot()) >= 1, "a command result")
            answer = orjson.loads(results.snapshot()[0].payload)
            assert (answer["id"], answer["ok"], answer["code"]) == ("w-1", False, "unknown"), answer
            assert bus.stats.writes == 2  # one per write, none resent

            # item 5: a broadcast through the daemon's bus: both dimmers apply it, it is reported sent
            done = edgepost(config, "--json", "write", "--bus", "bus1", "--unit", "0", "--address", "1", "--yes", "4")
            assert done.returncode == 0, done.stderr
            assert orjson.loads(done.stdout)["outcome"] == "sent"
            eventually(lambda: bus.stats.writes == 3, "the broadcast on the wire")
            assert [d.value_of("dim_2") for d in devices.values()] == [pytest.approx(0.004), pytest.approx(0.004)]

            # item 5: a read of unit 0 is refused and never reaches the wire
            before = bus.stats.requests
            done = edgepost(config, "read", "--bus", "bus1", "--unit", "0", "--address", "0")
            assert done.returncode == ExitCode.USAGE and "broadcast" in done.stderr
            assert bus.stats.requests == before
        finally:
            agent.terminate()
            agent.wait(30)
