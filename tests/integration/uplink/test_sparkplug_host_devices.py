"""Sparkplug edge node on real mosquitto: primary host STATE gating, device death/rebirth, DCMD writes,
durable QoS 1 mode. Statement ids (tck-id-...) as in docs/sparkplug-conformance.md."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.commands.config import CommandsConfig
from agent.commands.dispatcher import CommandDispatcher
from agent.errors import WriteRejected
from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import PointValue, Reading
from agent.uplink.sparkplug.catalog import DeviceDecl
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.sparkplug_decode import BOOLEAN, encode_command
from tests.integration.uplink.sparkplug_support import GROUP, NODE, data_seqs, decode_all, running_sparkplug
from tests.integration.uplink.support import wait_until
from tests.integration.uplink.test_sparkplug_mqtt import LEVEL, METER, bdseq, check_seq_chain, publish, spb_config

pytestmark = pytest.mark.network
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)
HOST = "scada"
STATE_TOPIC = f"spBv1.0/STATE/{HOST}"


def state(online: bool, ts: int) -> bytes:
    return orjson.dumps({"online": online, "timestamp": ts})


async def test_primary_host_gates_births_and_data(mosquitto: Mosquitto, tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with mosquitto.collector("spBv1.0/#") as sub:
            publish(mosquitto.port, STATE_TOPIC, state(False, 1000), retain=True)
            await outbox.accept([Reading("level1", "distance", i, time.time()) for i in range(10)])
            config = spb_config(mosquitto.port, primary_host_id=HOST)
            async with running_sparkplug(config, outbox, lambda: [LEVEL], OutboxConfig(live_window_s=0.5)) as up:
                await wait_until(lambda: up.counters.connects == 1)
                await asyncio.sleep(1.5)  # connected, host offline: nothing may be published
                assert decode_all(sub.snapshot()) == []
                assert (await outbox.stats()).records == 10
                # The host comes online: births, then the held records, flagged historical.
                publish(mosquitto.port, STATE_TOPIC, state(True, 2000), retain=True)
                await wait_until(lambda: up.counters.records_acked == 10)
                # An older STATE (timestamp below the last) is ignored: the session stays.
                publish(mosquitto.port, STATE_TOPIC, state(False, 1500))
                await outbox.accept([Reading("level1", "distance", 10, time.time())])
                await wait_until(lambda: up.counters.records_acked == 11)
                # The host goes offline: NDEATH, disconnect, reconnect with the next bdSeq, hold data.
                publish(mosquitto.port, STATE_TOPIC, state(False, 3000), retain=True)
                await wait_until(lambda: up.counters.connects == 2)
                await outbox.accept([Reading("level1", "distance", 100 + i, time.time()) for i in range(5)])
                await asyncio.sleep(1.5)
                assert up.counters.records_acked == 11
                assert (await outbox.stats()).records == 5
                publish(mosquitto.port, STATE_TOPIC, state(True, 4000), retain=True)
                await wait_until(lambda: up.counters.records_acked == 16)
                await wait_until(lambda: len(set(data_seqs(decode_all(sub.snapshot())))) == 16)
            every = decode_all(sub.snapshot())
    finally:
        await outbox.close()
    verbs = [m.verb for m in every]
    assert verbs[:2] == ["NBIRTH", "DBIRTH"]
    births = [m for m in every if m.verb == "NBIRTH"]
    deaths = [m for m in every if m.verb == "NDEATH"]
    assert [bdseq(m) for m in births] == [0, 1]
    assert bdseq(deaths[0]) == 0 and verbs.index("NDEATH") < verbs.index("NBIRTH", 1)
    check_seq_chain(every)
    first_data = next(m for m in every if m.verb == "DDATA")
    assert all(x.get("is_historical") for x in first_data.doc["metrics"])  # held records: is_historical
    assert sorted(set(data_seqs(every))) == list(range(1, 17))


async def test_device_offline_ddeath_and_back_dbirth(mosquitto: Mosquitto, tmp_path: Path) -> None:
    devices = [METER, LEVEL]
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with mosquitto.collector("spBv1.0/#") as sub:
            async with running_sparkplug(spb_config(mosquitto.port), outbox, lambda: list(devices)):
                await wait_until(lambda: sum(m.verb == "DBIRTH" for m in decode_all(sub.snapshot())) == 2)
                devices[1] = DeviceDecl("level1", "offline", LEVEL.points)
                await wait_until(lambda: any(m.verb == "DDEATH" for m in decode_all(sub.snapshot())))
                devices[1] = DeviceDecl("level1", "online", LEVEL.points)
                await wait_until(lambda: sum(m.verb == "DBIRTH" for m in decode_all(sub.snapshot())) == 3)
                # A point the driver never declared: the device is born again with it before its data.
                await outbox.accept([Reading("level1", "temperature", 21.5, time.time())])
                await wait_until(lambda: any(m.verb == "DDATA" for m in decode_all(sub.snapshot())))
            every = decode_all(sub.snapshot())
    finally:
        await outbox.close()
    tail = [(m.verb, m.device) for m in every if m.verb != "NDEATH"][3:]
    assert tail == [("DDEATH", "level1"), ("DBIRTH", "level1"), ("DBIRTH", "level1"), ("DDATA", "level1")]
    last_birth = [m for m in every if m.verb == "DBIRTH"][-1]
    assert "temperature" in {x["name"] for x in last_birth.doc["metrics"]}
    check_seq_chain(every)


class RecordingDriver:
    """Stands in for a driver's write path: records writes, refuses what its 'profile' refuses."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, PointValue]] = []

    def inventory(self) -> list[Any]:
        return []

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> None:
        if point == "setpoint" and isinstance(value, int) and not -40 <= value <= 85:
            raise WriteRejected(device, point, f"{value} outside -40..85")
        self.writes.append((device, point, value))


class Targets:
    def __init__(self, driver: RecordingDriver) -> None:
        self.driver = driver

    def driver_for(self, device: str) -> Any:
        return self.driver if device == "meter1" else None

    def resend_birth(self) -> None:
        pass


async def test_dcmd_writes_go_through_the_command_path(mosquitto: Mosquitto, tmp_path: Path) -> None:
    driver = RecordingDriver()
    dispatcher = CommandDispatcher(CommandsConfig(writable=["meter1.setpoint", "meter1.relay"]), Targets(driver),
                                   tmp_path)
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with mosquitto.collector("spBv1.0/#") as sub:
            async with running_sparkplug(spb_config(mosquitto.port), outbox, lambda: [METER],
                                         commands=dispatcher.handle_message):
                await wait_until(lambda: any(m.verb == "DBIRTH" for m in decode_all(sub.snapshot())))
                birth = {x["name"]: x for x in next(m for m in decode_all(sub.snapshot())
                                                    if m.verb == "DBIRTH").doc["metrics"]}
                now = int(time.time() * 1000)
                topic = f"spBv1.0/{GROUP}/DCMD/{NODE}/meter1"
                setpoint = birth["setpoint"]["alias"]
                publish(mosquitto.port, topic, encode_command([{"alias": setpoint, "int": -5}], now), qos=0)
                publish(mosquitto.port, topic, encode_command([{"name": "relay", "datatype": BOOLEAN, "bool": True}],
                                                              now), qos=0)
                # refused: out of the profile's range, not writable by the profile, not in commands.writable
                publish(mosquitto.port, topic, encode_command([{"alias": setpoint, "int": 500}], now), qos=0)
                publish(mosquitto.port, topic, encode_command([{"name": "voltage", "double": 1.0}], now), qos=0)
                await wait_until(lambda: len(driver.writes) == 2)
                await asyncio.sleep(1.0)  # the refused ones had time to (wrongly) arrive
    finally:
        await outbox.close()
        await dispatcher.close()
    assert driver.writes == [("meter1", "setpoint", -5), ("meter1", "relay", True)]


async def test_durable_mode_publishes_qos1_and_deletes_on_puback(mosquitto: Mosquitto, tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with mosquitto.collector("spBv1.0/#") as sub:
            await outbox.accept([Reading("level1", "distance", i, time.time()) for i in range(40)])
            async with running_sparkplug(spb_config(mosquitto.port, qos=1), outbox, lambda: [LEVEL]) as up:
                await wait_until(lambda: up.counters.records_acked == 40)
                await wait_until(lambda: len(data_seqs(decode_all(sub.snapshot()))) >= 40)
            every = decode_all(sub.snapshot())
    finally:
        await outbox.close()
    assert {m.qos for m in every if m.verb != "NDEATH"} == {1}
    assert all(not m.retain for m in every)
    assert sorted(set(data_seqs(every))) == list(range(1, 41))
