"""Outbox records -> NDATA/DDATA payloads (metrics by alias, timestamps, ``is_historical``, split by size)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from agent.outbox.api import StoredRecord
from agent.uplink.sparkplug import datatypes
from agent.uplink.sparkplug.catalog import EVENT_METRIC, Catalog
from agent.uplink.sparkplug.payloads import PROP_QUALITY, PROP_SEQ, QUALITY, add_properties, now_ms
from agent.uplink.sparkplug.proto import pb

PAYLOAD_OVERHEAD = 32  # timestamp + seq + framing of one Payload
METRIC_FRAMING = 4  # tag and length of one metric inside the payload


@dataclass(slots=True)
class DataMessage:
    """One NDATA (device None) or DDATA payload and the outbox seqs it carries."""

    device: str | None
    payload: Any
    seqs: list[int] = field(default_factory=list)
    size: int = PAYLOAD_OVERHEAD


@dataclass(frozen=True, slots=True)
class Encoded:
    messages: list[DataMessage]
    rebirth_node: bool  # a node-level metric is new or changed type: full NBIRTH first
    rebirth_devices: frozenset[str]  # these devices need a DBIRTH first


def event_text(record: StoredRecord) -> str:
    body = record.body
    doc = {"seq": record.seq, "ev": body.get("kind"), "pri": record.priority.name.lower(), "data": body.get("data")}
    return orjson.dumps(doc).decode()


class SparkplugEncoder:
    def __init__(self, catalog: Catalog, node_device: str, max_payload_bytes: int) -> None:
        self._catalog = catalog
        self._node_device = node_device  # records of this device (the gateway: outbox gaps) go in NDATA
        self._max = max_payload_bytes

    def encode(self, records: Sequence[StoredRecord], historical: bool) -> Encoded:
        """Data messages for ``records`` in order, one device per message; births they need first.

        A chunk that declared a metric or widened a datatype is encoded again, so every value in it
        uses the datatype of the birth that will precede it.
        """
        first = self._encode_once(records, historical)
        if not (first.rebirth_node or first.rebirth_devices):
            return first
        again = self._encode_once(records, historical)
        return Encoded(again.messages, first.rebirth_node, first.rebirth_devices)

    def _encode_once(self, records: Sequence[StoredRecord], historical: bool) -> Encoded:
        by_device: dict[str | None, list[StoredRecord]] = {}
        for record in records:
            key = None if record.device == self._node_device else record.device
            by_device.setdefault(key, []).append(record)
        messages: list[DataMessage] = []
        rebirth_node = False
        rebirth_devices: set[str] = set()
        ts = now_ms()
        for device, items in by_device.items():
            # chronological order of the metrics inside one message (tck-id-...-dbirth-order)
            items.sort(key=lambda r: r.ts)
            current = DataMessage(device, pb.Payload(timestamp=ts))
            for record in items:
                metric, needs_birth = self._metric(current.payload, device, record, historical)
                if needs_birth:
                    if device is None:
                        rebirth_node = True
                    else:
                        rebirth_devices.add(device)
                size = metric.ByteSize() + METRIC_FRAMING
                if current.seqs and current.size + size > self._max:
                    # the metric moves to a new message of the same device
                    moved = pb.Payload.Metric()
                    moved.CopyFrom(metric)
                    del current.payload.metrics[-1]
                    messages.append(current)
                    current = DataMessage(device, pb.Payload(timestamp=ts))
                    current.payload.metrics.append(moved)
                current.seqs.append(record.seq)
                current.size += size
            messages.append(current)
        return Encoded(messages, rebirth_node, frozenset(rebirth_devices))

    def _metric(self, payload: Any, device: str | None, record: StoredRecord, historical: bool) -> tuple[Any, bool]:
        body = record.body
        if record.kind == "reading":
            name = str(body.get("point"))
            value = body.get("value")
            quality = QUALITY.get(str(body.get("quality")), QUALITY["bad"])
        else:
            name, value, quality = EVENT_METRIC, event_text(record), None
        definition, needs_birth = self._catalog.metric_for(device, name, value)
        ts_ms = int(record.ts * 1000)
        metric = payload.metrics.add()
        metric.alias = definition.alias
        metric.timestamp = ts_ms
        if historical:
            metric.is_historical = True
        datatypes.set_metric_value(metric, definition.datatype, value)
        props: list[tuple[str, Any]] = [(PROP_SEQ, record.seq)]
        if quality is not None:
            props.insert(0, (PROP_QUALITY, quality))
        add_properties(metric, props)
        if metric.ByteSize() + PAYLOAD_OVERHEAD > self._max:
            too_large = {"seq": record.seq, "err": "record_too_large", "size": metric.ByteSize()}
            metric.Clear()
            definition, needs_birth = self._catalog.metric_for(device, EVENT_METRIC, "")
            metric.alias, metric.timestamp = definition.alias, ts_ms
            metric.is_historical = historical
            metric.string_value = orjson.dumps(too_large).decode()
            add_properties(metric, [(PROP_SEQ, record.seq)])
            return metric, needs_birth
        if not historical and (definition.ts_ms is None or ts_ms >= definition.ts_ms):
            definition.value, definition.ts_ms, definition.quality = value, ts_ms, quality
        return metric, needs_birth
