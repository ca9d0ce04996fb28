"""``set_period`` over MQTT to the real daemon: a period its RS-485 line cannot keep is refused.

The daemon polls a simulated WitMotion tilt sensor (12 registers in one read) on a socat pty at
2400 baud, so one read keeps the line busy ~0.19 s. A cloud once sent ``set_period 0.001`` and the
device then missed 10,519 cycles. Now 1 ms is refused by ``commands.min_period_s`` (0.1 s), 0.15 s by
the line itself, each answer naming the shortest period accepted, and that period is then accepted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drivers.modbus.simulator.runner import run_in_thread
from drivers.modbus.simulator.serve import build_servers
from drivers.modbus.simulator.spec import parse_spec
from tests.fixtures.mosquitto import Collector, Mosquitto
from tests.fixtures.serial import socat_pty_pair
from tests.integration.agent.conftest import Pole, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]

SIM = """
buses:
  - serial: {{port: "{port}", baud: 2400}}
    devices:
      - unit: 3
        profile: witmotion/wt901c-485
        points:
          roll: {{kind: random_walk, step: 0.5, min: -3, max: 3, seed: 3}}
"""
CONFIG = """
gateway: {{id: slow-pole}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 2400, timeout_s: 1.0}}
    devices:
      - {{name: manhole, bus: bus1, unit_id: 3, profile: witmotion/wt901c-485, period_s: 1.0,
          points: [acc_x, acc_y, acc_z, gyro_x, gyro_y, gyro_z, mag_x, mag_y, mag_z, roll, pitch, yaw]}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""
CMD_TOPIC = "edgepost/slow-pole/cmd/ops"
# 12 registers: request 8 + response 5 + payload 24 bytes + 2 x 3.5 silent chars, 10 bits each, + 5 ms turnaround
ONE_READ_S = (8 + 5 + 24 + 7) * 10 / 2400 + 0.005


@pytest.fixture
def slow_pole(tmp_path: Path) -> Iterator[Pole]:
    with Mosquitto(tmp_path) as broker, socat_pty_pair() as (sim_port, agent_port):
        spec, doc = parse_spec(SIM.format(port=sim_port), "<sim>")
        with run_in_thread(*build_servers(spec, doc)):
            pole = Pole(tmp_path, broker, agent_port, tmp_path / "config.yaml", tmp_path / "state")
            pole.write_config(text=CONFIG.format(state=pole.state, port=agent_port, mqtt_port=broker.port))
            try:
                yield pole
            finally:
                if pole.proc is not None and pole.proc.poll() is None:
                    pole.proc.kill()
                    pole.proc.wait(10)


def send(port: int, **fields: Any) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        body = {"expires_at": time.time() + 300, **fields}
        client.publish(CMD_TOPIC, orjson.dumps(body), qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def answer(sub: Collector, command_id: str) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        out = [orjson.loads(m.payload) for m in sub.snapshot(topic_suffix="/cmd-result")]
        return [a for a in out if a.get("id") == command_id]

    wait_until(lambda: bool(found()), what=f"the answer to {command_id}")
    return found()[0]


def set_period(pole: Pole, sub: Collector, command_id: str, period_s: float) -> dict[str, Any]:
    send(pole.broker.port, id=command_id, kind="set_period", device="manhole", period_s=period_s)
    return answer(sub, command_id)


def test_a_period_below_what_the_line_can_keep_is_refused(slow_pole: Pole) -> None:
    pole = slow_pole
    with pole.broker.collector("edgepost/slow-pole/#") as sub:
        pole.start_agent()
        pole.wait_log("event=uplink_connected")
        time.sleep(0.5)  # the SUBACK for cmd/# is in

        floor = set_period(pole, sub, "p-1ms", 0.001)
        assert (floor["ok"], floor["code"]) == (False, "rejected"), floor
        assert floor["result"] == {"min_period_s": 0.1} and "commands.min_period_s" in floor["message"]

        line = set_period(pole, sub, "p-150ms", 0.15)
        assert (line["ok"], line["code"]) == (False, "rejected"), line
        minimum = line["result"]["min_period_s"]
        assert minimum == pytest.approx(ONE_READ_S, abs=0.002) and minimum >= ONE_READ_S
        assert "bus bus1" in line["message"]

        accepted = set_period(pole, sub, "p-min", minimum)
        assert accepted["ok"] is True, accepted
        assert accepted["result"] == {"device": "manhole", "point": None, "period_s": minimum, "requested_s": minimum}

        assert set_period(pole, sub, "p-back", 1.0)["result"]["period_s"] == 1.0
        assert pole.stop_agent() == 0
    assert pole.log().count("event=period_set device=manhole") == 2
