"""Every downlink command gets an answer from the real daemon, whatever its driver does.

`edgepost run` as a subprocess with a third-party driver plugin (``gate_driver.py``, registered by a
generated ``.dist-info`` on PYTHONPATH) and a real mosquitto. The plugin raises a bare ``ValueError``
on one point and holds a write open on another until the test opens a gate file.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.mosquitto import Collector, Mosquitto
from tests.integration.agent.conftest import Pole, wait_until
from tests.integration.agent.gate_driver import install

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(240)]

CONFIG = """
gateway: {{id: gate-pole}}
state_dir: {state}
drivers:
  - {{driver: gate, name: gates, devices: [lamp], files: {files}}}
commands: {{writable: ["lamp.*"]}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""
CMD_TOPIC = "edgepost/gate-pole/cmd/ops"
RESULT_TOPIC = "edgepost/gate-pole/cmd-result"


@dataclass
class GatePole(Pole):
    site: Path = Path()


@pytest.fixture
def gate_pole(tmp_path: Path) -> Iterator[GatePole]:
    with Mosquitto(tmp_path, persistence=True) as broker:
        pole = GatePole(tmp_path, broker, "", tmp_path / "config.yaml", tmp_path / "state",
                        site=install(tmp_path / "site"))
        pole.write_config(text=CONFIG.format(state=pole.state, files=tmp_path / "gate", mqtt_port=broker.port))
        try:
            yield pole
        finally:
            if pole.proc is not None and pole.proc.poll() is None:
                pole.proc.kill()
                pole.proc.wait(10)


def start(pole: GatePole) -> None:
    path = os.pathsep.join(p for p in (str(pole.site), os.environ.get("PYTHONPATH", "")) if p)
    connected = pole.log().count("event=uplink_connected") if pole.log_path.exists() else 0
    proc = pole.start_agent(env={"PYTHONPATH": path})
    wait_until(lambda: pole.log().count("event=uplink_connected") > connected or proc.poll() is not None,
               what="uplink up")
    assert proc.poll() is None, pole.log()[-3000:]
    time.sleep(0.5)  # the SUBACK for cmd/# is in before the first command


def send(port: int, **fields: Any) -> None:
    body = {"expires_at": time.time() + 300, **fields}
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(CMD_TOPIC, orjson.dumps(body), qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def answers(sub: Collector, command_id: str) -> list[dict[str, Any]]:
    out = [orjson.loads(m.payload) for m in sub.snapshot(topic_suffix="/cmd-result")]
    return [a for a in out if a.get("id") == command_id]


def wait_answers(sub: Collector, command_id: str, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
    wait_until(lambda: len(answers(sub, command_id)) >= count, timeout, f"{count} answer(s) to {command_id}")
    return answers(sub, command_id)


def writes(pole: Pole) -> list[str]:
    log = pole.workdir / "gate" / "writes.log"
    return log.read_text().splitlines() if log.exists() else []


def test_a_value_error_from_a_driver_is_answered_and_the_session_stays_up(gate_pole: GatePole) -> None:
    pole = gate_pole
    with pole.broker.collector(RESULT_TOPIC) as sub:
        start(pole)
        send(pole.broker.port, id="bug-1", kind="write_point", device="lamp", point="bug", value=1)
        send(pole.broker.port, id="ping-1", kind="ping")
        answer = wait_answers(sub, "bug-1")[0]
        assert (answer["ok"], answer["code"]) == (False, "failed")
        assert answer["message"] == "ValueError: could not convert string to float: 'x'"
        assert wait_answers(sub, "ping-1")[0]["ok"] is True
        assert pole.stop_agent() == 0
    log = pole.log()
    assert log.count("event=uplink_connected") == 1, "the MQTT session was restarted"
    assert "event=task_failed task=uplink" not in log and "event=task_restart_scheduled task=uplink" not in log


def test_a_disconnect_between_execution_and_answer_loses_nothing(gate_pole: GatePole) -> None:
    pole = gate_pole
    gate = pole.workdir / "gate"
    with pole.broker.collector(RESULT_TOPIC, persistent=True) as sub:
        start(pole)
        send(pole.broker.port, id="slow-1", kind="write_point", device="lamp", point="slow", value=7)
        wait_until(lambda: (gate / "gate-entered").exists(), what="the write to start")
        pole.broker.stop()
        pole.wait_log("uplink_down")
        (gate / "gate-open").touch()  # the write completes while the uplink is down
        wait_until(lambda: writes(pole) == ["lamp.slow=7"], what="the write to complete (not cancelled)")
        pole.broker.start()
        sub.wait_subscribed(30)
        answer = wait_answers(sub, "slow-1", timeout=60)[0]
        assert (answer["ok"], answer["code"]) == (True, "ok")
        assert answer["result"] == {"device": "lamp", "point": "slow", "value": 7}
        assert pole.stop_agent() == 0
    assert writes(pole) == ["lamp.slow=7"]


def test_a_retry_gets_the_stored_answer_even_after_a_restart(gate_pole: GatePole) -> None:
    pole = gate_pole
    expires = time.time() + 600
    command = {"id": "dim-1", "expires_at": expires, "kind": "write_point", "device": "lamp", "point": "dim",
               "value": 40}
    with pole.broker.collector(RESULT_TOPIC, persistent=True) as sub:
        start(pole)
        send(pole.broker.port, **command)
        first = wait_answers(sub, "dim-1")[0]
        assert (first["ok"], first["code"]) == (True, "ok")
        send(pole.broker.port, **command)
        assert wait_answers(sub, "dim-1", 2)[1] == first

        assert pole.stop_agent(signal.SIGKILL) == -signal.SIGKILL
        start(pole)
        send(pole.broker.port, **command)
        assert wait_answers(sub, "dim-1", 3)[2] == first
        assert pole.stop_agent() == 0
    assert writes(pole) == ["lamp.dim=40"]
