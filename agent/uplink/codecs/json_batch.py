"""Compact JSON batches (orjson), optionally zlib-compressed when historical. Scheme: ../TOPICS.md."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from agent.outbox.api import StoredRecord
from agent.uplink.codecs.base import Codec, EncodedBatch

CONTENT_TYPE = "application/json"
CONTENT_TYPE_ZLIB = "application/json+zlib"
ZLIB_LEVEL = 1  # backlog drains are CPU-bound on the box; level 1 already gets most of the gain on JSON


def record_item(record: StoredRecord) -> dict[str, Any]:
    """One record as it appears in ``records`` of a batch."""
    body = record.body
    item: dict[str, Any]
    if record.kind == "reading":
        item = {
            "seq": record.seq,
            "dev": record.device,
            "pt": body.get("point"),
            "v": body.get("value"),
            "u": body.get("unit"),
            "q": body.get("quality"),
            "ts": record.ts,
        }
    else:
        item = {
            "seq": record.seq,
            "dev": record.device,
            "ev": body.get("kind"),
            "pri": record.priority.name.lower(),
            "data": body.get("data"),
            "ts": record.ts,
        }
    if record.ram:
        item["ram"] = True  # held only in RAM (degraded outbox) when sent: see TOPICS.md
    return item


def record_items(records: Sequence[StoredRecord]) -> list[dict[str, Any]]:
    """``record_item`` over a batch, readings (the drain's bulk) inlined: no call per record."""
    out: list[dict[str, Any]] = []
    append = out.append
    try:
        for r in records:
            if r.kind == "reading" and not r.ram:
                body = r.body  # the outbox's decode gives a reading all four keys
                append({
                    "seq": r.seq,
                    "dev": r.device,
                    "pt": body["point"],
                    "v": body["value"],
                    "u": body["unit"],
                    "q": body["quality"],
                    "ts": r.ts,
                })
            else:
                append(record_item(r))
    except KeyError:  # a reading built elsewhere with a partial body: missing keys are null
        return [record_item(r) for r in records]
    return out


def oversize_item(record: StoredRecord, size: int) -> dict[str, Any]:
    """Stands in for a record that alone exceeds the payload limit, so its seq is still acknowledged."""
    item = {"seq": record.seq, "dev": record.device, "err": "record_too_large", "size": size, "ts": record.ts}
    if record.ram:
        item["ram"] = True
    return item


class JsonBatchCodec(Codec):
    name = "json"

    def encode(self, records: Sequence[StoredRecord], historical: bool) -> list[EncodedBatch]:
        items = record_items(records)
        out: list[EncodedBatch] = []
        self._pack(records, items, 0, len(items), historical, out)
        return out

    def _payload(self, items: list[dict[str, Any]], historical: bool) -> tuple[bytes, bool]:
        raw = orjson.dumps({"gw": self.gateway_id, "hist": historical, "records": items})
        if historical and self.compress_historical:
            return zlib.compress(raw, ZLIB_LEVEL), True
        return raw, False

    def _pack(
        self,
        records: Sequence[StoredRecord],
        items: list[dict[str, Any]],
        lo: int,
        hi: int,
        historical: bool,
        out: list[EncodedBatch],
    ) -> None:
        if lo >= hi:
            return
        payload, compressed = self._payload(items[lo:hi], historical)
        if len(payload) > self.max_payload_bytes:
            if hi - lo > 1:
                # Halving keeps batches near the limit in log(n) encodes; order is preserved.
                mid = (lo + hi) // 2
                self._pack(records, items, lo, mid, historical, out)
                self._pack(records, items, mid, hi, historical, out)
                return
            payload, compressed = self._payload([oversize_item(records[lo], len(payload))], historical)
        out.append(
            EncodedBatch(
                payload=payload,
                seqs=tuple([r.seq for r in records[lo:hi]]),
                records=hi - lo,
                historical=historical,
                compressed=compressed,
                content_type=CONTENT_TYPE_ZLIB if compressed else CONTENT_TYPE,
            )
        )
