"""Snapshot events travel alone on ``…/snapshots``: one JSON message per snapshot, linked to its event id.

A camera with ``snapshots.enabled`` hands the pipeline ``Event(kind="snapshot")`` records whose data
holds ``event_id`` (the event the picture illustrates) and the JPEG as base64. They are stored and
acknowledged like any record (deleted on PUBACK), but never ride inside an ``events`` batch: a batch
consumer should not have to skip 100 kB pictures, and a picture store can subscribe to them alone.
The payload is the same whatever the batch codec (scheme in TOPICS.md).
"""

from __future__ import annotations

from typing import Any

import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.outbox.api import StoredRecord
from agent.uplink.codecs.base import EncodedBatch

SNAPSHOT_KIND = "snapshot"  # Event.kind the camera driver gives a snapshot (drivers/camera/snapshot.py)
CONTENT_TYPE = "application/json"
_ROUTING_KEYS = frozenset({"topic"})  # the driver's routing hint, not part of the message


def is_snapshot(record: StoredRecord) -> bool:
    return record.kind == "event" and record.body.get("kind") == SNAPSHOT_KIND


def event_id_of(record: StoredRecord) -> str | None:
    data = record.body.get("data")
    value = data.get("event_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def snapshot_document(record: StoredRecord, gateway_id: str, historical: bool) -> dict[str, Any]:
    """``{"gw", "seq", "dev", "ts", "hist", "event_id", "event_kind", "content_type", "jpeg_b64", ...}``."""
    doc: dict[str, Any] = {"gw": gateway_id, "seq": record.seq, "dev": record.device, "ts": record.ts,
                           "hist": historical}
    if record.ram:
        doc["ram"] = True  # held only in RAM (degraded outbox) when sent: see TOPICS.md
    data = record.body.get("data")
    if isinstance(data, dict):
        doc.update((k, v) for k, v in data.items() if k not in _ROUTING_KEYS and k not in doc)
    return doc


def encode_snapshot(record: StoredRecord, gateway_id: str, max_payload_bytes: int, historical: bool) -> EncodedBatch:
    """One snapshot message. Too large for ``max_payload_bytes``: a stub that still accounts for its seq."""
    payload = orjson.dumps(snapshot_document(record, gateway_id, historical))
    if len(payload) > max_payload_bytes:
        payload = orjson.dumps(
            {"gw": gateway_id, "seq": record.seq, "dev": record.device, "ts": record.ts, "hist": historical,
             "event_id": event_id_of(record), "err": "record_too_large", "size": len(payload)}
            | ({"ram": True} if record.ram else {})
        )
    # Never compressed: the JPEG inside is already compressed; base64 is the only slack.
    return EncodedBatch(payload, (record.seq,), 1, historical, False, CONTENT_TYPE)


def snapshot_properties(batch: EncodedBatch, event_id: str | None) -> Properties:
    """MQTT 5 properties: content type, ``enc``/``hist`` like every batch, and ``event_id``."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = batch.content_type
    user = [("enc", batch.encoding), ("hist", "1" if batch.historical else "0"), ("kind", SNAPSHOT_KIND)]
    if event_id is not None:
        user.append(("event_id", event_id))
    props.UserProperty = user
    return props
