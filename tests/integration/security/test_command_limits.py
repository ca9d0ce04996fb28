"""Downlink command payloads are bounded before they are parsed: a real daemon, a real mosquitto.

A 20 MiB payload is refused by its size without being parsed, a payload nested 200 levels deep by its
depth; each gets a ``cmd-result`` naming why, and the daemon still answers the next command.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.mosquitto import Collector, Mosquitto
from tests.integration.security.measured import EDGEPOST

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(180)]

GW = "pole-cmd"


def publish(port: int, payload: bytes) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(f"edgepost/{GW}/cmd/test", payload, qos=1).wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


def results(collector: Collector) -> list[dict[str, Any]]:
    return [orjson.loads(m.payload) for m in collector.snapshot() if m.topic.endswith("/cmd-result")]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Mosquitto, Collector]]:
    with Mosquitto(tmp_path) as broker, broker.collector(f"edgepost/{GW}/#") as sub:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"gateway: {{id: {GW}}}\nstate_dir: {tmp_path / 'state'}\n"
            f"uplink: {{host: 127.0.0.1, port: {broker.port}, reconnect_min_s: 0.2, reconnect_max_s: 1}}\n"
            f"control: {{socket: {tmp_path / 'control.sock'}, group: null}}\n"
        )
        with (tmp_path / "daemon.log").open("wb") as log:
            proc = subprocess.Popen([str(EDGEPOST), "-c", str(config), "run"], stdout=log, stderr=log)
        try:
            sub.wait_for(lambda msgs: any(m.topic.endswith("/birth") for m in msgs), timeout=60)
            yield broker, sub
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def command(command_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": command_id, "expires_at": time.time() + 300, "kind": "ping", **extra}


def answers_then_pings(broker: Mosquitto, sub: Collector, payload: bytes) -> dict[str, Any]:
    """The answer to ``payload``; the daemon must still answer a ping after it."""
    publish(broker.port, payload)
    sub.wait_for(lambda msgs: len(results(sub)) >= 1, timeout=60)
    publish(broker.port, orjson.dumps(command("ping-1")))
    sub.wait_for(lambda msgs: len(results(sub)) >= 2, timeout=60)
    first, ping = results(sub)[:2]
    assert ping["id"] == "ping-1" and ping["ok"] is True, ping
    return first


def test_oversized_payload_is_refused_unparsed(daemon: tuple[Mosquitto, Collector]) -> None:
    answer = answers_then_pings(*daemon, orjson.dumps(command("big-1", pad="x" * (20 * 1024 * 1024))))
    assert answer["ok"] is False and answer["code"] == "too_large", answer
    assert answer["id"] is None  # the id is not dug out of a payload that is not parsed


def test_deeply_nested_payload_is_refused(daemon: tuple[Mosquitto, Collector]) -> None:
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    answer = answers_then_pings(*daemon, orjson.dumps(command("deep-1", pad=deep)))
    assert answer["ok"] is False and answer["code"] == "too_deep" and answer["id"] == "deep-1", answer
