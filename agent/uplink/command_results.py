"""Command answers travel alone on ``…/cmd-result``, one JSON message each, like snapshots on theirs.

The dispatcher puts every answer into the outbox as ``Event(kind="cmd_result")`` whose data is the
answer itself (``{"id", "ok", "code", "message", "result"}``); it is stored, sent QoS 1 and deleted on
PUBACK like any record, so a dropped connection delays an answer but never loses it.
"""

from __future__ import annotations

import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.commands.models import RESULT_KIND
from agent.outbox.api import StoredRecord
from agent.uplink.codecs.base import EncodedBatch

CONTENT_TYPE = "application/json"


def is_command_result(record: StoredRecord) -> bool:
    return record.kind == "event" and record.body.get("kind") == RESULT_KIND


def encode_command_result(record: StoredRecord, max_payload_bytes: int, historical: bool) -> EncodedBatch:
    """The answer exactly as the dispatcher made it; too large: the same answer without its result."""
    data = record.body.get("data")
    answer = dict(data) if isinstance(data, dict) else {}
    payload = orjson.dumps(answer)
    if len(payload) > max_payload_bytes:
        note = f"answer of {len(payload)} bytes dropped: over uplink.max_payload_bytes"
        answer.update(code="result_too_large" if answer.get("ok") else answer.get("code"), message=note, result=None)
        payload = orjson.dumps(answer)
    return EncodedBatch(payload, (record.seq,), 1, historical, False, CONTENT_TYPE)


def command_result_properties() -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = CONTENT_TYPE
    props.UserProperty = [("kind", RESULT_KIND)]
    return props
