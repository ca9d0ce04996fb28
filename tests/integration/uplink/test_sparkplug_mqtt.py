"""Sparkplug B edge node against a real mosquitto, decoded by the tests' own wire decoder.

Statement ids (tck-id-...) are the Eclipse Sparkplug TCK's; docs/sparkplug-conformance.md maps them here.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Quality, Reading
from agent.uplink.config import SparkplugConfig, UplinkConfig
from agent.uplink.sparkplug.catalog import DeviceDecl, PointDecl
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.sparkplug_decode import BOOLEAN, DOUBLE, INT64, STRING, encode_rebirth_ncmd
from tests.fixtures.tcp_proxy import TcpProxy
from tests.integration.uplink.sparkplug_support import GROUP, NODE, Spb, data_seqs, decode_all, running_sparkplug
from tests.integration.uplink.support import wait_until

pytestmark = pytest.mark.network
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)
INT16, UINT16, FLOAT = 2, 6, 9

METER = DeviceDecl("meter1", "online", (
    PointDecl("voltage", "float64", unit="V", low=0.0, high=300.0),
    PointDecl("relay", "bool", writable=True),
    PointDecl("setpoint", "int16", unit="°C", low=-40, high=85, writable=True),
    PointDecl("status", "uint16"),
    PointDecl("power", "float32", unit="W"),
))
LEVEL = DeviceDecl("level1", "online", (PointDecl("distance", "uint16", unit="cm"),))


def spb_config(port: int, **sparkplug: object) -> UplinkConfig:
    return UplinkConfig(
        port=port, namespace="sparkplug", sparkplug=SparkplugConfig(group_id=GROUP, **sparkplug),  # type: ignore[arg-type]
        reconnect_min_s=0.05, reconnect_max_s=0.3, reconnect_fleet_size=1, batch_records=50,
    )


def publish(port: int, topic: str, payload: bytes, retain: bool = False, qos: int = 1) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def readings(n: int, start: float | None = None) -> list[Reading | Event]:
    t0 = start if start is not None else time.time()
    out: list[Reading | Event] = []
    for i in range(n):
        out.append(Reading("meter1", "voltage", 230.0 + i / 10, t0 + i * 0.001, unit="V"))
        out.append(Reading("level1", "distance", 100 + i, t0 + i * 0.001, unit="cm",
                           quality=Quality.STALE if i == 3 else Quality.GOOD))
    return out


def check_seq_chain(messages: list[Spb]) -> None:
    """tck-id-payloads-sequence-num-*: from each NBIRTH (seq 0), every message +1 mod 256; NDEATH none."""
    expected: int | None = None
    for m in messages:
        if m.verb == "NDEATH":
            assert "seq" not in m.doc
            continue
        assert "seq" in m.doc and 0 <= m.doc["seq"] <= 255
        if m.verb == "NBIRTH":
            assert m.doc["seq"] == 0
        else:
            assert m.doc["seq"] == expected, (m.verb, m.doc["seq"], expected)
        expected = (m.doc["seq"] + 1) % 256


def bdseq(m: Spb) -> int:
    [metric] = [x for x in m.doc["metrics"] if x.get("name") == "bdSeq"]
    assert metric["datatype"] == INT64
    return int(metric["value"])


async def test_births_data_seq_aliases_and_will(mosquitto: Mosquitto, tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with mosquitto.collector("spBv1.0/#") as sub, TcpProxy(mosquitto.port) as proxy:
            await outbox.accept(readings(150))
            await outbox.accept([Event("meter1", "door", priority=Priority.ALARM, data={"open": True}),
                                 Event(NODE, "gap", priority=Priority.ALARM, data={"reason": "evicted"})])
            async with running_sparkplug(spb_config(proxy.port), outbox, lambda: [METER, LEVEL]) as up:
                await wait_until(lambda: up.counters.records_acked == 302)
                await wait_until(lambda: len(data_seqs(decode_all(sub.snapshot()))) >= 302)
                first = decode_all(sub.snapshot())
                proxy.cut()  # the broker loses the node without a DISCONNECT: it publishes the Will
                await wait_until(lambda: sum(m.verb == "NBIRTH" for m in decode_all(sub.snapshot())) >= 2)
            every = decode_all(sub.snapshot())
    finally:
        await outbox.close()

    # Session 1: NBIRTH then the DBIRTHs, then data; QoS 0 and not retained (tck-id-payloads-*-qos/retain).
    assert [m.verb for m in first[:3]] == ["NBIRTH", "DBIRTH", "DBIRTH"]
    assert {m.device for m in first[1:3]} == {"meter1", "level1"}
    for m in first:
        assert m.qos == 0 and not m.retain, m.verb
        assert isinstance(m.doc.get("timestamp"), int)  # tck-id-payloads-*-timestamp
    check_seq_chain(every)
    nbirth = first[0]
    assert bdseq(nbirth) == 0
    names = {x["name"]: x for x in nbirth.doc["metrics"]}
    rebirth = names["Node Control/Rebirth"]
    assert rebirth["datatype"] == BOOLEAN and rebirth["value"] is False and "alias" not in rebirth
    # Births: name, alias, datatype, timestamp and value or is_null on every metric; aliases unique.
    aliases: list[int] = []
    for m in (x for x in first if x.verb in ("NBIRTH", "DBIRTH")):
        for metric in m.doc["metrics"]:
            assert "name" in metric and "datatype" in metric and "timestamp" in metric
            assert ("value" in metric) != bool(metric.get("is_null")), metric
            if metric["name"] not in ("bdSeq", "Node Control/Rebirth"):
                aliases.append(metric["alias"])
    assert len(aliases) == len(set(aliases))
    meter = {x["name"]: x for x in next(m for m in first if m.device == "meter1").doc["metrics"]}
    assert meter["voltage"]["datatype"] == DOUBLE
    assert meter["voltage"]["properties"]["engUnit"]["value"] == "V"
    assert meter["voltage"]["properties"]["engLow"]["value"] == 0.0
    assert meter["voltage"]["properties"]["engHigh"]["value"] == 300.0
    assert meter["setpoint"]["datatype"] == INT16 and meter["status"]["datatype"] == UINT16
    assert meter["power"]["datatype"] == FLOAT and meter["relay"]["datatype"] == BOOLEAN
    assert meter["edgepost/event"]["datatype"] == STRING
    # Data: alias only, a timestamp each, values as sent; every record once (seq property).
    data = [m for m in first if m.verb in ("DDATA", "NDATA")]
    assert sorted(set(data_seqs(first))) == list(range(1, 303))
    for m in data:
        for metric in m.doc["metrics"]:
            assert "alias" in metric and "name" not in metric and "datatype" not in metric
            assert isinstance(metric["timestamp"], int)
            assert not metric.get("is_historical")
    level = [x for m in data if m.device == "level1" for x in m.doc["metrics"]]
    assert [x["value"] for x in level] == [100 + i for i in range(150)]
    assert [x["properties"]["Quality"]["value"] for x in level[2:5]] == [192, 500, 192]
    assert level[3]["properties"]["Quality"]["type"] == 3  # Int32 (tck-id-payloads-propertyset-quality-value-type)
    voltages = [x["value"] for m in data if m.device == "meter1" for x in m.doc["metrics"]
                if x["alias"] == meter["voltage"]["alias"]]
    assert voltages == [230.0 + i / 10 for i in range(150)]
    door = next(x for m in data if m.device == "meter1" for x in m.doc["metrics"]
                if x["alias"] == meter["edgepost/event"]["alias"])
    assert orjson.loads(door["value"]) == {"seq": 301, "ev": "door", "pri": "alarm", "data": {"open": True}}
    gap = next(m for m in data if m.verb == "NDATA")
    assert orjson.loads(gap.doc["metrics"][0]["value"])["ev"] == "gap"
    # The Will: NDEATH with the session's bdSeq and no seq; then bdSeq 1 on the next CONNECT.
    deaths = [m for m in every if m.verb == "NDEATH"]
    assert deaths and bdseq(deaths[0]) == 0 and "seq" not in deaths[0].doc
    births = [m for m in every if m.verb == "NBIRTH"]
    assert bdseq(births[1]) == 1


async def test_rebirth_request_repeats_births_with_same_bdseq(mosquitto: Mosquitto, tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with mosquitto.collector("spBv1.0/#") as sub:
            async with running_sparkplug(spb_config(mosquitto.port), outbox, lambda: [METER]) as up:
                await wait_until(lambda: any(m.verb == "DBIRTH" for m in decode_all(sub.snapshot())))
                await outbox.accept([Reading("meter1", "voltage", 231.5, time.time())])
                await wait_until(lambda: up.counters.records_acked == 1)
                publish(mosquitto.port, f"spBv1.0/{GROUP}/NCMD/{NODE}", encode_rebirth_ncmd(int(time.time() * 1000)),
                        qos=0)
                await wait_until(lambda: sum(m.verb == "NBIRTH" for m in decode_all(sub.snapshot())) == 2)
                await wait_until(lambda: sum(m.verb == "DBIRTH" for m in decode_all(sub.snapshot())) == 2)
                await outbox.accept([Reading("meter1", "voltage", 232.5, time.time())])
                await wait_until(lambda: len(data_seqs(decode_all(sub.snapshot()))) == 2)
            every = decode_all(sub.snapshot())
    finally:
        await outbox.close()
    verbs = [m.verb for m in every if m.verb != "NDEATH"]
    assert verbs == ["NBIRTH", "DBIRTH", "DDATA", "NBIRTH", "DBIRTH", "DDATA"]
    births = [m for m in every if m.verb == "NBIRTH"]
    assert bdseq(births[0]) == bdseq(births[1])  # tck-id-operational-behavior-data-commands-rebirth-action-3
    check_seq_chain(every)
    # The rebirth carries the last value sent as the current value.
    dbirth = [m for m in every if m.verb == "DBIRTH"][1]
    assert {x["name"]: x.get("value") for x in dbirth.doc["metrics"]}["voltage"] == 231.5


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_clean_stop_publishes_ndeath(mosquitto: Mosquitto, tmp_path: Path, protocol: str) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with mosquitto.collector("spBv1.0/#") as sub:
            config = spb_config(mosquitto.port).model_copy(update={"protocol": protocol})
            async with running_sparkplug(config, outbox, lambda: [LEVEL]):
                await wait_until(lambda: any(m.verb == "DBIRTH" for m in decode_all(sub.snapshot())))
            await wait_until(lambda: any(m.verb == "NDEATH" for m in decode_all(sub.snapshot())))
            await asyncio.sleep(0.5)  # a second NDEATH (explicit plus Will) would arrive by now
            every = decode_all(sub.snapshot())
    finally:
        await outbox.close()
    deaths = [m for m in every if m.verb == "NDEATH"]
    assert len(deaths) == 1 and bdseq(deaths[0]) == bdseq(every[0]) and "seq" not in deaths[0].doc
