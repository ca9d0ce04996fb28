"""The Sparkplug edge node's packets as the broker received them (mosquitto's debug log, wire_log.py),
and its CONNECT packet byte by byte: what a subscriber cannot see (publish QoS, retain flags, the
Will's flags, subscription QoS, clean session, session expiry, the order of DISCONNECT and NDEATH).

Statement ids (tck-id-...) as in docs/sparkplug-conformance.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.sparkplug.catalog import DeviceDecl
from tests.fixtures.mosquitto import free_port
from tests.fixtures.sparkplug_decode import INT64, decode
from tests.integration.uplink.sparkplug_support import GROUP, NODE, data_seqs, decode_all, running_sparkplug
from tests.integration.uplink.support import wait_until
from tests.integration.uplink.test_sparkplug_mqtt import LEVEL, METER, check_seq_chain, publish, spb_config
from tests.integration.uplink.wire_log import Packet, WireMosquitto, packets, verb

pytestmark = pytest.mark.network
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)
CLIENT = f"edgepost-{NODE}"
HOST = "scada"
RECORDS = 300  # one record per message (batch_records 1): the seq wraps 255 -> 0


def host_online(port: int, online: bool = True) -> None:
    payload = orjson.dumps({"online": online, "timestamp": int(time.time() * 1000)})
    publish(port, f"spBv1.0/STATE/{HOST}", payload, retain=True)


def retained_on(port: int, topic_filter: str) -> list[str]:
    """Topics of the retained messages a fresh subscriber gets. The broker sends them when it takes the
    SUBSCRIBE; a marker it forwards to us was published after that, so it ends the wait (re-published
    until one arrives: the collector does not wait for its SUBACK)."""
    from tests.fixtures.mosquitto import Collector

    marker = topic_filter.removesuffix("#") + "zz-marker"
    with Collector(port, topic_filter) as sub:
        for _ in range(60):
            publish(port, marker, b"end")
            with contextlib.suppress(TimeoutError):
                sub.wait_for(lambda msgs: any(m.topic == marker for m in msgs), timeout=1.0)
                break
        else:
            raise TimeoutError("the marker never came back: cannot tell what is retained")
        return [m.topic for m in sub.snapshot() if m.retain]


@pytest.mark.parametrize(("protocol", "qos"), [("3.1.1", 0), ("5", 0), ("5", 1)],
                         ids=["mqtt311-qos0", "mqtt5-qos0", "mqtt5-durable"])
async def test_edge_node_packets_as_the_broker_received_them(tmp_path: Path, protocol: str, qos: int) -> None:
    devices = [METER, LEVEL]
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with WireMosquitto(tmp_path) as broker, broker.collector("spBv1.0/#") as sub:
            config = spb_config(broker.port, primary_host_id=HOST, qos=qos).model_copy(
                update={"protocol": protocol, "batch_records": 1})
            host_online(broker.port)
            await outbox.accept([Reading("level1", "distance", i, time.time()) for i in range(RECORDS)])
            await outbox.accept([Event(NODE, "gap", priority=Priority.ALARM, data={"reason": "evicted"})])
            async with running_sparkplug(config, outbox, lambda: list(devices)) as up:
                await wait_until(lambda: up.counters.records_acked == RECORDS + 1, timeout=60)
                devices[1] = DeviceDecl("level1", "offline", LEVEL.points)
                await wait_until(lambda: any(m.verb == "DDEATH" for m in decode_all(sub.snapshot())))
            await wait_until(lambda: any(m.verb == "NDEATH" for m in decode_all(sub.snapshot())))
            await asyncio.sleep(0.5)  # a second NDEATH (explicit plus Will) would arrive by now
            every = decode_all(sub.snapshot())
            retained = retained_on(broker.port, f"spBv1.0/{GROUP}/#")
            sent = packets(broker.log, CLIENT)
    finally:
        await outbox.close()

    # CONNECT: clean session (3.1.1) / clean start (5) (tck-id-principles-persistence-clean-session-311/-50).
    assert sent[0] == Packet("CONNECT", protocol=2 if protocol == "3.1.1" else 5, clean=True)
    # The Will: NDEATH, QoS 1, not retained (tck-id-payloads-ndeath-will-message-qos/-retain).
    assert sent[1] == Packet("WILL", f"spBv1.0/{GROUP}/NDEATH/{NODE}", 1, False)
    # NCMD and DCMD at QoS 1, and the primary host's STATE (tck-id-message-flow-edge-node-ncmd-subscribe,
    # tck-id-message-flow-device-dcmd-subscribe, -primary-application-state-with-multiple-servers-state-subs).
    subscriptions = {(p.topic, p.qos) for p in sent if p.kind == "SUBSCRIBE"}
    assert subscriptions == {(f"spBv1.0/{GROUP}/NCMD/{NODE}", 1), (f"spBv1.0/{GROUP}/DCMD/{NODE}/+", 1),
                             (f"spBv1.0/STATE/{HOST}", 1)}
    published = [p for p in sent if p.kind == "PUBLISH"]
    # The first messages published are the births (tck-id-principles-birth-certificates-order).
    assert [verb(p.topic) for p in published[:3]] == ["NBIRTH", "DBIRTH", "DBIRTH"]
    # Births, data and deaths of devices at the mode's QoS, never retained (tck-id-payloads-*-qos/-retain).
    body = [p for p in published if verb(p.topic) != "NDEATH"]
    assert {verb(p.topic) for p in body} == {"NBIRTH", "DBIRTH", "DDATA", "NDATA", "DDEATH"}
    assert {(p.qos, p.retain) for p in body} == {(qos, False)}
    assert retained == []  # nothing of the node stays on the broker
    # Intentional disconnect: 3.1.1 publishes NDEATH (QoS 1) then DISCONNECT; 5 sends DISCONNECT with
    # reason 0x04 and the broker publishes the Will (tck-id-payloads-ndeath-will-message-publisher-*).
    deaths = [p for p in published if verb(p.topic) == "NDEATH"]
    if protocol == "3.1.1":
        assert deaths == [Packet("PUBLISH", f"spBv1.0/{GROUP}/NDEATH/{NODE}", 1, False)]
        assert [p.kind for p in sent[-2:]] == ["PUBLISH", "DISCONNECT"] and sent[-2] == deaths[0]
    else:
        assert deaths == [] and sent[-1].kind == "DISCONNECT"
    assert sum(m.verb == "NDEATH" for m in every) == 1
    # seq: 0 in NBIRTH, +1 per message, 255 -> 0 (tck-id-payloads-sequence-num-incrementing).
    check_seq_chain(every)
    seqs = [m.doc["seq"] for m in every if m.verb != "NDEATH"]
    assert len(seqs) > 256 and seqs[256] == 0
    if qos == 1:
        assert sorted(set(data_seqs(every))) == list(range(1, RECORDS + 2))
    # Timestamps are epoch milliseconds, i.e. UTC (tck-id-payloads-timestamp-in-UTC, -metric-timestamp-in-UTC);
    # datatypes and property types are valid codes (tck-id-payloads-metric-datatype-value,
    # tck-id-payloads-metric-propertyvalue-type-value) and every property value has its type (-type-req).
    now_ms = time.time() * 1000
    for m in every:
        assert abs(m.doc["timestamp"] - now_ms) < 600_000, m.doc["timestamp"]
        for metric in m.doc["metrics"]:
            assert abs(metric["timestamp"] - now_ms) < 600_000
            assert metric.get("datatype", 1) in range(1, 35)
            for prop in (metric.get("properties") or {}).values():
                assert prop is None or prop["type"] in (*range(1, 13), 20, 21), prop


@contextlib.contextmanager
def connect_catcher() -> Iterator[tuple[int, list[bytes]]]:
    """A listener that keeps the CONNECT packet of each connection and closes it."""
    port = free_port()
    caught: list[bytes] = []
    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                with contextlib.suppress(OSError):
                    while len(data) < 2 or len(data) < packet_length(data):
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                if data[:1] == b"\x10":  # an MQTT CONNECT; another process may probe a port it thinks free
                    caught.append(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port, caught
    finally:
        done.set()
        thread.join(5)
        server.close()


def varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def packet_length(data: bytes) -> int:
    """Fixed header plus remaining length; a large number while the length bytes are incomplete."""
    try:
        remaining, i = varint(data, 1)
    except IndexError:
        return 1 << 30
    return i + remaining


def utf8(buf: bytes, i: int) -> tuple[bytes, int]:
    n = int.from_bytes(buf[i:i + 2], "big")
    return buf[i + 2:i + 2 + n], i + 2 + n


def parse_connect(data: bytes) -> dict[str, object]:
    """MQTT 3.1.1 section 3.1 / MQTT 5 section 3.1: the CONNECT's flags, properties and Will."""
    assert data[0] == 0x10, "not a CONNECT"
    _, i = varint(data, 1)
    name, i = utf8(data, i)
    level, flags = data[i], data[i + 1]
    i += 4  # level, flags, keep alive
    properties: dict[int, bytes] = {}
    if level == 5:
        length, i = varint(data, i)
        end = i + length
        while i < end:  # the CONNECT properties used by clients: ids with 4-, 2-byte or binary/string values
            pid = data[i]
            size = {0x11: 4, 0x21: 2, 0x22: 2, 0x27: 4, 0x19: 1, 0x17: 1}.get(pid)
            if size is None:
                _, j = utf8(data, i + 1)
                properties[pid] = data[i + 1:j]
                i = j
            else:
                properties[pid] = data[i + 1:i + 1 + size]
                i += 1 + size
        i = end
    _client_id, i = utf8(data, i)
    will_topic = will_payload = b""
    if flags & 0x04:
        if level == 5:
            length, i = varint(data, i)
            i += length  # Will properties
        will_topic, i = utf8(data, i)
        will_payload, i = utf8(data, i)
    return {"name": name, "level": level, "clean": bool(flags & 0x02), "will": bool(flags & 0x04),
            "will_qos": (flags >> 3) & 3, "will_retain": bool(flags & 0x20), "properties": properties,
            "will_topic": will_topic.decode(), "will_payload": will_payload}


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_connect_packet_clean_session_no_expiry_and_ndeath_will(tmp_path: Path, protocol: str) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with connect_catcher() as (port, caught):
            config: UplinkConfig = spb_config(port).model_copy(update={"protocol": protocol})
            async with running_sparkplug(config, outbox, lambda: [LEVEL]):
                await wait_until(lambda: len(caught) >= 2)  # two CONNECTs: the second has the next bdSeq
    finally:
        await outbox.close()
    first, second = parse_connect(caught[0]), parse_connect(caught[1])
    assert first["name"] == b"MQTT" and first["level"] == (4 if protocol == "3.1.1" else 5)
    assert first["clean"] is True
    if protocol == "5":  # Session Expiry absent (0) or 0 (tck-id-principles-persistence-clean-session-50)
        expiry = first["properties"].get(0x11, b"\0\0\0\0")  # type: ignore[attr-defined]
        assert int.from_bytes(expiry, "big") == 0
    # The Will is the NDEATH: QoS 1, not retained, protobuf with bdSeq (Int64) only and no seq
    # (tck-id-message-flow-edge-node-birth-publish-will-message*, tck-id-topics-ndeath-payload/-seq).
    assert first["will"] is True and first["will_qos"] == 1 and first["will_retain"] is False
    assert first["will_topic"] == f"spBv1.0/{GROUP}/NDEATH/{NODE}"
    bdseqs = []
    for connect in (first, second):
        doc = decode(connect["will_payload"])  # type: ignore[arg-type]
        assert "seq" not in doc and [m["name"] for m in doc["metrics"]] == ["bdSeq"]
        assert doc["metrics"][0]["datatype"] == INT64
        bdseqs.append(doc["metrics"][0]["value"])
    assert bdseqs == [0, 1]  # +1 per CONNECT (tck-id-topics-nbirth-bdseq-increment)
