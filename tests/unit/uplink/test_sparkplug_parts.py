"""Sparkplug parts without a broker: datatypes, catalog, encoder, STATE parsing, every payload type
decoded by the tests' own wire decoder (tests/fixtures/sparkplug_decode.py)."""

from __future__ import annotations

import time

import orjson

from agent.outbox.api import StoredRecord
from agent.records import Priority
from agent.uplink.sparkplug import datatypes, payloads
from agent.uplink.sparkplug.catalog import Catalog, DeviceDecl, PointDecl
from agent.uplink.sparkplug.encoder import SparkplugEncoder
from agent.uplink.sparkplug.host_state import PrimaryHost, parse_state
from agent.uplink.sparkplug.proto import pb
from agent.uplink.sparkplug.topics import SparkplugTopics
from tests.fixtures.sparkplug_decode import DOUBLE, INT64, STRING, decode


def reading(seq: int, device: str, point: str, value: object, quality: str = "good") -> StoredRecord:
    body = {"point": point, "value": value, "unit": None, "quality": quality}
    return StoredRecord(seq, Priority.TELEMETRY, "reading", device, 1_700_000_000.0 + seq, time.time(), body)  # type: ignore[arg-type]


def test_datatypes_signed_values_round_trip_through_the_wire() -> None:
    for datatype, value in [(pb.Int8, -5), (pb.Int16, -32768), (pb.Int32, -1), (pb.Int64, -(2**63)),
                            (pb.UInt32, 2**32 - 1), (pb.UInt64, 2**64 - 1)]:
        payload = pb.Payload()
        metric = payload.metrics.add()
        metric.datatype = datatype
        datatypes.set_metric_value(metric, datatype, value)
        assert decode(payload.SerializeToString())["metrics"][0]["value"] == value
        assert datatypes.metric_value(metric, datatype) == value


def test_a_value_that_does_not_fit_widens_and_never_wraps() -> None:
    assert not datatypes.fits(pb.Int16, 40000) and datatypes.widen(pb.Int16, 40000) == pb.Int64
    assert not datatypes.fits(pb.UInt16, 1.5) and datatypes.widen(pb.UInt16, 1.5) == pb.Double
    assert not datatypes.fits(pb.Float, 0.1) and datatypes.fits(pb.Float, 0.5)
    assert datatypes.widen(pb.Boolean, 3) == pb.String and datatypes.fits(pb.String, 3)
    catalog = Catalog()
    catalog.declare([DeviceDecl("m", "online", (PointDecl("p", "int16"),))])
    metric, rebirth = catalog.metric_for("m", "p", 7)
    assert not rebirth and metric.datatype == pb.Int16
    metric, rebirth = catalog.metric_for("m", "p", 70000)
    assert rebirth and metric.datatype == pb.Int64


def test_aliases_unique_and_stable_across_declarations() -> None:
    catalog = Catalog()
    catalog.declare([DeviceDecl("a", "online", (PointDecl("x", "float64"), PointDecl("y", "bool")))])
    first = {(d, n): m.alias for d, dev in catalog.devices.items() for n, m in dev.metrics.items()}
    changed = catalog.declare([DeviceDecl("a", "online", (PointDecl("x", "float64"), PointDecl("y", "bool"))),
                               DeviceDecl("b", "online", (PointDecl("x", "float64"),))])
    assert changed == {"b"}
    after = {(d, n): m.alias for d, dev in catalog.devices.items() for n, m in dev.metrics.items()}
    assert all(after[k] == v for k, v in first.items())
    node_aliases = [m.alias for m in catalog.node.metrics.values()]
    assert len(set(after.values()) | set(node_aliases)) == len(after) + len(node_aliases)


def test_encoder_splits_by_size_keeps_every_seq_and_marks_historical() -> None:
    catalog = Catalog()
    catalog.declare([DeviceDecl("m", "online", (PointDecl("v", "float64"),))])
    encoder = SparkplugEncoder(catalog, "gw", 1024)
    records = [reading(i, "m", "v", float(i)) for i in range(1, 201)] + [reading(201, "gw", "x", 1)]
    encoded = encoder.encode(records, historical=True)
    assert encoded.rebirth_node  # a node-level reading nobody declared needs a full rebirth first
    seqs = [s for m in encoded.messages for s in m.seqs]
    assert sorted(seqs) == list(range(1, 202))
    for message in encoded.messages:
        raw = message.payload.SerializeToString()
        assert len(raw) <= 1024
        doc = decode(raw, {catalog.devices["m"].metrics["v"].alias: DOUBLE})
        assert all(x["is_historical"] for x in doc["metrics"])
        assert [x["properties"]["seq"]["value"] for x in doc["metrics"]] == message.seqs


def test_too_large_event_is_replaced_by_a_stub_that_keeps_its_seq() -> None:
    catalog = Catalog()
    encoder = SparkplugEncoder(catalog, "gw", 1024)
    big = StoredRecord(9, Priority.EVENT, "event", "cam", time.time(), time.time(),
                       {"kind": "snapshot", "data": {"jpeg_b64": "A" * 5000}})
    [message] = encoder.encode([big], historical=False).messages
    metric = decode(message.payload.SerializeToString())["metrics"][0]
    assert orjson.loads(metric["value"])["err"] == "record_too_large" and message.seqs == [9]


def test_every_node_payload_decodes_independently() -> None:
    catalog = Catalog()
    catalog.declare([DeviceDecl("m", "online", (PointDecl("v", "float64", unit="V", low=0.0, high=1.0),))])
    death = decode(payloads.ndeath(7).SerializeToString())
    assert "seq" not in death and death["metrics"][0]["name"] == "bdSeq"
    assert death["metrics"][0]["value"] == 7 and death["metrics"][0]["datatype"] == INT64
    birth = decode(payloads.nbirth(7, catalog).SerializeToString())
    assert [m["name"] for m in birth["metrics"]][:2] == ["bdSeq", "Node Control/Rebirth"]
    assert birth["metrics"][2]["datatype"] == STRING and birth["metrics"][2]["is_null"]
    dbirth = decode(payloads.dbirth(catalog.devices["m"]).SerializeToString())
    v = next(m for m in dbirth["metrics"] if m["name"] == "v")
    assert v["is_null"] and v["properties"]["engUnit"]["value"] == "V"
    ddeath = decode(payloads.ddeath().SerializeToString())
    assert ddeath["metrics"] == [] and isinstance(ddeath["timestamp"], int)


def test_state_payloads_and_timestamps() -> None:
    assert parse_state(b"ONLINE") is None and parse_state(b'{"online": 1, "timestamp": 5}') is None
    host = PrimaryHost("h")
    assert host.offer(b'{"online": true, "timestamp": 10}') is not None and host.online
    assert host.offer(b'{"online": false, "timestamp": 9}') is None and host.online  # older: ignored
    assert host.offer(b'{"online": false, "timestamp": 10}') is not None and not host.online


def test_topics() -> None:
    t = SparkplugTopics("g", "n")
    assert t.nbirth == "spBv1.0/g/NBIRTH/n" and t.ddata("d") == "spBv1.0/g/DDATA/n/d"
    assert t.dcmd_device("spBv1.0/g/DCMD/n/d") == "d" and t.dcmd_device("spBv1.0/g/DCMD/x/d") is None
    assert t.state("h") == "spBv1.0/STATE/h"


def test_bdseq_wraps_after_255() -> None:
    """tck-id-message-flow-edge-node-birth-publish-will-message-payload-bdSeq: +1 per CONNECT (each
    Will), 255 -> 0; the session's NBIRTH carries the bdSeq of its Will."""
    from agent.uplink.config import SparkplugConfig
    from agent.uplink.sparkplug.edge import SparkplugEdge

    edge = SparkplugEdge(SparkplugConfig(group_id="g"), "n", 4096)
    seen = []
    for _ in range(258):
        will = edge.will()
        seen.append(decode(bytes(will.payload))["metrics"][0]["value"])  # type: ignore[arg-type]
        assert edge.bdseq == seen[-1]
    assert seen[:3] == [0, 1, 2] and seen[255:] == [255, 0, 1]
