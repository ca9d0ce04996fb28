"""JSON batch codec: record shape, size limit, compression flag, entry-point registry."""

from __future__ import annotations

import zlib

import orjson
import pytest

from agent.errors import ConfigError
from agent.outbox.api import StoredRecord
from agent.records import Priority
from agent.uplink.codecs import codec_names, load_codec_class, make_codec
from agent.uplink.codecs.json_batch import CONTENT_TYPE, CONTENT_TYPE_ZLIB, JsonBatchCodec


def reading(seq: int, value: object = 1.5, device: str = "m1") -> StoredRecord:
    return StoredRecord(seq, Priority.TELEMETRY, "reading", device, 100.0 + seq, 200.0,
                        {"point": "v", "value": value, "unit": "V", "quality": "good"})  # type: ignore[dict-item]


def event(seq: int) -> StoredRecord:
    return StoredRecord(seq, Priority.ALARM, "event", "m1", 100.0, 200.0, {"kind": "door_open", "data": {"a": 1}})


def decode(payload: bytes) -> dict[str, object]:
    return orjson.loads(zlib.decompress(payload) if payload[:1] != b"{" else payload)  # type: ignore[no-any-return]


def test_reading_and_event_shapes() -> None:
    codec = JsonBatchCodec("gw1", 64 * 1024, compress_historical=False)
    [batch] = codec.encode([reading(1), event(2)], historical=False)
    doc = orjson.loads(batch.payload)
    assert doc == {
        "gw": "gw1",
        "hist": False,
        "records": [
            {"seq": 1, "dev": "m1", "pt": "v", "v": 1.5, "u": "V", "q": "good", "ts": 101.0},
            {"seq": 2, "dev": "m1", "ev": "door_open", "pri": "alarm", "data": {"a": 1}, "ts": 100.0},
        ],
    }
    assert batch.seqs == (1, 2) and batch.content_type == CONTENT_TYPE and not batch.compressed


def test_split_respects_max_payload_and_keeps_order() -> None:
    codec = JsonBatchCodec("gw1", 2048, compress_historical=False)
    records = [reading(i, value="x" * 50) for i in range(1, 201)]
    batches = codec.encode(records, historical=False)
    assert len(batches) > 1
    assert all(len(b.payload) <= 2048 for b in batches)
    seqs = [s for b in batches for s in b.seqs]
    assert seqs == list(range(1, 201))
    assert [r["seq"] for b in batches for r in orjson.loads(b.payload)["records"]] == seqs


def test_historical_batches_are_compressed_and_flagged() -> None:
    codec = JsonBatchCodec("gw1", 64 * 1024, compress_historical=True)
    [batch] = codec.encode([reading(i) for i in range(1, 101)], historical=True)
    assert batch.compressed and batch.content_type == CONTENT_TYPE_ZLIB and batch.encoding == "zlib"
    assert batch.payload[:1] != b"{"
    doc = decode(batch.payload)
    assert doc["hist"] is True and len(doc["records"]) == 100  # type: ignore[arg-type]
    [live] = codec.encode([reading(1)], historical=False)
    assert not live.compressed and orjson.loads(live.payload)["hist"] is False


def test_single_oversize_record_becomes_marker_so_its_seq_is_acked() -> None:
    codec = JsonBatchCodec("gw1", 1024, compress_historical=False)
    batches = codec.encode([reading(1), reading(2, value="y" * 5000), reading(3)], historical=False)
    assert [s for b in batches for s in b.seqs] == [1, 2, 3]
    items = [r for b in batches for r in orjson.loads(b.payload)["records"]]
    assert items[1]["err"] == "record_too_large" and items[1]["seq"] == 2
    assert all(len(b.payload) <= 1024 for b in batches)


def test_registry_loads_json_by_entry_point() -> None:
    assert "json" in codec_names()
    assert load_codec_class("json") is JsonBatchCodec
    assert isinstance(make_codec("json", "gw", 4096, True), JsonBatchCodec)


def test_unknown_codec_names_the_config_field() -> None:
    with pytest.raises(ConfigError, match=r"uplink\.codec: no codec named 'sparkplug'"):
        load_codec_class("sparkplug")
