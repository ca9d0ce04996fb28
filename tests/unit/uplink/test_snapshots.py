"""Snapshot records: one message each on ``…/snapshots`` (never in an events batch), deleted on PUBACK."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import orjson

from agent.outbox.api import StoredRecord
from agent.records import Event, Priority, Reading
from agent.uplink.codecs.json_batch import JsonBatchCodec
from agent.uplink.counters import UplinkCounters
from agent.uplink.drain import DrainScheduler
from agent.uplink.publisher import AckedDeleter, BatchPublisher
from agent.uplink.snapshots import encode_snapshot, is_snapshot, snapshot_properties
from agent.uplink.topics import Topics
from tests.unit.uplink.fakes import FakeOutbox, stored

JPEG = b"\xff\xd8fake-jpeg\xff\xd9"


def snapshot_event(event_id: str, device: str = "cam1") -> Event:
    data: dict[str, Any] = {
        "event_id": event_id, "event_kind": "illegal_parking", "topic": "snapshots",
        "content_type": "image/jpeg", "jpeg_b64": base64.b64encode(JPEG).decode(), "bytes": len(JPEG),
    }
    return Event(device, "snapshot", ts=100.0, data=data)


def as_stored(event: Event, seq: int = 7) -> StoredRecord:
    return stored(event, seq, 100.5)


def test_snapshot_document_links_the_event_and_drops_the_routing_hint() -> None:
    record = as_stored(snapshot_event("ev-1"))
    assert is_snapshot(record)
    assert not is_snapshot(as_stored(Event("cam1", "illegal_parking", data={"event_id": "ev-1"})))
    batch = encode_snapshot(record, "gw1", 256 * 1024, historical=False)
    doc = orjson.loads(batch.payload)
    assert (doc["gw"], doc["seq"], doc["dev"], doc["event_id"], doc["hist"]) == ("gw1", 7, "cam1", "ev-1", False)
    assert base64.b64decode(doc["jpeg_b64"]) == JPEG and "topic" not in doc
    assert batch.seqs == (7,) and not batch.compressed and batch.content_type == "application/json"


def test_a_snapshot_cannot_overwrite_the_envelope() -> None:
    event = snapshot_event("ev-1")
    forged = Event(event.device, event.kind, event.ts, event.priority, {**event.data, "seq": 1, "gw": "other"})
    doc = orjson.loads(encode_snapshot(as_stored(forged, 9), "gw1", 256 * 1024, historical=True).payload)
    assert (doc["seq"], doc["gw"], doc["hist"]) == (9, "gw1", True)


def test_oversize_snapshot_becomes_a_stub_that_keeps_seq_and_event_id() -> None:
    batch = encode_snapshot(as_stored(snapshot_event("ev-9")), "gw1", 100, historical=False)
    doc = orjson.loads(batch.payload)
    assert doc["err"] == "record_too_large" and doc["event_id"] == "ev-9" and doc["size"] > 100
    assert batch.seqs == (7,) and "jpeg_b64" not in doc


def test_mqtt5_properties_carry_the_event_id() -> None:
    batch = encode_snapshot(as_stored(snapshot_event("ev-2")), "gw1", 256 * 1024, historical=False)
    props = snapshot_properties(batch, "ev-2")
    assert props.ContentType == "application/json"
    assert ("event_id", "ev-2") in props.UserProperty and ("kind", "snapshot") in props.UserProperty


class RecordingClient:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, Any]] = []

    async def publish_acked(self, topic: str, payload: bytes, *, retain: bool = False,
                            properties: Any = None, timeout: float | None = None) -> None:
        await asyncio.sleep(0)
        self.sent.append((topic, payload, properties))


async def test_publisher_sends_each_snapshot_alone_after_the_events_batch_and_deletes_it() -> None:
    outbox = FakeOutbox()
    await outbox.accept([
        Event("cam1", "illegal_parking", priority=Priority.EVENT, data={"event_id": "a"}),
        snapshot_event("a"),
        snapshot_event("b", device="cam2"),
        Event("cam2", "illegal_parking", priority=Priority.EVENT, data={"event_id": "b"}),
        Reading("cam1", "zone.z.count.car", 2, time.time()),
    ])
    topics = Topics("edgepost", "gw1")
    scheduler = DrainScheduler(outbox, batch_records=100, backlog_share=0.5, live_window_s=60)
    counters = UplinkCounters()
    deleter = AckedDeleter(outbox, scheduler, counters)
    client = RecordingClient()
    publisher = BatchPublisher(client, topics, JsonBatchCodec("gw1", 256 * 1024), scheduler, deleter,  # type: ignore[arg-type]
                               counters, inflight=4, mqtt5=True, publish_timeout_s=5, wake=asyncio.Event())
    tasks = [asyncio.create_task(publisher.run()), asyncio.create_task(deleter.run())]
    try:
        async with asyncio.timeout(10):
            while outbox.records:  # noqa: ASYNC110 -- waits for the fake outbox to be drained
                await asyncio.sleep(0.01)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    assert sorted(outbox.deleted) == [1, 2, 3, 4, 5]
    assert counters.snapshots == 2
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for topic, payload, _ in client.sent:
        by_topic.setdefault(topic.rsplit("/", 1)[1], []).append(orjson.loads(payload))
    assert [r["seq"] for b in by_topic["events"] for r in b["records"]] == [1, 4]
    assert [d["event_id"] for d in by_topic["snapshots"]] == ["a", "b"]  # one per message
    assert [d["seq"] for d in by_topic["snapshots"]] == [2, 3]
    assert [r["seq"] for b in by_topic["telemetry"] for r in b["records"]] == [5]
    events_index = next(i for i, (t, _, _) in enumerate(client.sent) if t.endswith("/events"))
    first_snapshot = next(i for i, (t, _, _) in enumerate(client.sent) if t.endswith("/snapshots"))
    assert events_index < first_snapshot  # a consumer sees the event before its picture
    snapshot_props = [p for t, _, p in client.sent if t.endswith("/snapshots")]
    assert [dict(p.UserProperty)["event_id"] for p in snapshot_props] == ["a", "b"]
