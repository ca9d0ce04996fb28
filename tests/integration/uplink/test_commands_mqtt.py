"""Downlink commands over a real broker: every command gets a result on cmd-result."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.commands.config import CommandsConfig
from agent.commands.dispatcher import CommandDispatcher
from agent.errors import WriteRejected
from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import PointValue
from agent.uplink.config import UplinkConfig
from drivers.base import Driver
from tests.fixtures.mosquitto import Mosquitto
from tests.integration.uplink.support import running_uplink, wait_until

pytestmark = pytest.mark.network


class FakeDriver:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str, PointValue]] = []

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> None:
        if point == "voltage":
            raise WriteRejected(device, point, "read-only in profile")
        self.writes.append((device, point, value))


class Targets:
    def __init__(self) -> None:
        self.driver = FakeDriver()
        self.births = 0

    def driver_for(self, device: str) -> Driver[Any] | None:
        return self.driver if device == "lamp1" else None  # type: ignore[return-value]

    def resend_birth(self) -> None:
        self.births += 1


def publish_all(port: int, topic: str, payloads: list[bytes]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for p in payloads:
        client.publish(topic, p, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


async def test_commands_refused_or_executed_with_results(mosquitto: Mosquitto, tmp_path: Path) -> None:
    now = time.time()

    def cmd(cid: str, **fields: Any) -> bytes:
        return orjson.dumps({"id": cid, "expires_at": now + 60, **fields})

    write = {"kind": "write_point", "device": "lamp1", "point": "dim", "value": 40}
    payloads = [
        b"{not json",
        cmd("k1", kind="reboot"),
        cmd("m1", kind="write_point", device="lamp1", point="dim"),
        orjson.dumps({"id": "e1", "expires_at": now - 1, **write}),
        cmd("w1", **write),
        cmd("w1", **write),  # a retry: the stored answer, not a second write
        cmd("u1", kind="write_point", device="lamp1", point="relay", value=1),
        cmd("r1", kind="write_point", device="lamp1", point="voltage", value=1),
        cmd("p1", kind="ping"),
    ]
    targets = Targets()
    outbox = await Outbox.open(tmp_path / "state", OutboxConfig(durability=Durability.PROCESS_SAFE), "gw1")
    dispatcher = CommandDispatcher(CommandsConfig(writable=["lamp1.dim", "lamp1.voltage"]), targets, tmp_path, outbox)
    try:
        with mosquitto.collector("edgepost/gw1/cmd-result") as results:
            config = UplinkConfig(port=mosquitto.port)
            async with running_uplink(config, outbox, commands=dispatcher.submit) as (up, _):
                await wait_until(lambda: up.counters.connected)
                await asyncio.sleep(0.2)  # SUBACK for cmd/# is in before the first command
                await asyncio.to_thread(publish_all, mosquitto.port, "edgepost/gw1/cmd/any", payloads)
                got = await asyncio.to_thread(results.wait_for, lambda m: len(m) >= len(payloads))
        answers = [orjson.loads(m.payload) for m in got]
    finally:
        await dispatcher.close()
        await outbox.close()
    # Commands run concurrently, so match answers to commands by id (and code for the id-less one).
    codes = sorted((a["id"] or "", a["code"]) for a in answers)
    assert codes == sorted([
        ("", "bad_json"), ("k1", "unknown_kind"), ("m1", "invalid"), ("e1", "expired"),
        ("w1", "ok"), ("w1", "ok"), ("u1", "unauthorised"), ("r1", "rejected"), ("p1", "ok"),
    ])
    assert all(a["ok"] is (a["code"] == "ok") for a in answers)
    assert "'value'" in next(a["message"] for a in answers if a["id"] == "m1")
    assert targets.driver.writes == [("lamp1", "dim", 40)]
