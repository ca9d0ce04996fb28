"""Sparkplug B payloads of the edge node: NBIRTH, NDEATH, DBIRTH, DDEATH (data: encoder.py).

Every metric in a birth carries name, alias, datatype, timestamp and its current value (or
``is_null``); units and engineering ranges ride as properties. ``seq`` is left unset here: the
sender stamps it at the moment it hands the message to the MQTT client, so seq order is send order.
"""

from __future__ import annotations

import time
from typing import Any

from agent.uplink.sparkplug import datatypes
from agent.uplink.sparkplug.catalog import BDSEQ, REBIRTH, Catalog, DeviceDef, MetricDef
from agent.uplink.sparkplug.proto import pb

QUALITY = {"good": 192, "stale": 500, "bad": 0}  # Sparkplug "Quality" property codes
PROP_UNIT = "engUnit"
PROP_LOW = "engLow"
PROP_HIGH = "engHigh"
PROP_QUALITY = "Quality"
PROP_SEQ = "seq"  # the record's outbox seq: the dedup key across reconnects, as in the JSON namespace


def now_ms() -> int:
    return int(time.time() * 1000)


def _bdseq_metric(payload: Any, bdseq: int, ts_ms: int) -> None:
    metric = payload.metrics.add()
    metric.name = BDSEQ
    metric.timestamp = ts_ms
    metric.datatype = pb.Int64
    metric.long_value = bdseq


def ndeath(bdseq: int) -> Any:
    """The Will (and explicit death): one metric, bdSeq, and no seq."""
    ts = now_ms()
    payload = pb.Payload(timestamp=ts)
    _bdseq_metric(payload, bdseq, ts)
    return payload


def add_properties(metric: Any, items: list[tuple[str, Any]]) -> None:
    if not items:
        return
    props = metric.properties
    for key, value in items:
        props.keys.append(key)
        entry = props.values.add()
        if key == PROP_QUALITY:
            entry.type = pb.Int32  # the spec fixes Quality as Int32 (tck-id-payloads-propertyset-quality-value-type)
            entry.int_value = int(value)
        else:
            datatypes.set_property(entry, value)


def _birth_metric(payload: Any, definition: MetricDef, ts_ms: int) -> None:
    metric = payload.metrics.add()
    metric.name = definition.name
    metric.alias = definition.alias
    metric.datatype = definition.datatype
    metric.timestamp = definition.ts_ms if definition.ts_ms is not None else ts_ms
    datatypes.set_metric_value(metric, definition.datatype, definition.value)
    props: list[tuple[str, Any]] = []
    if definition.unit is not None:
        props.append((PROP_UNIT, definition.unit))
    if definition.low is not None:
        props.append((PROP_LOW, float(definition.low)))
    if definition.high is not None:
        props.append((PROP_HIGH, float(definition.high)))
    if definition.quality is not None:
        props.append((PROP_QUALITY, definition.quality))
    add_properties(metric, props)


def nbirth(bdseq: int, catalog: Catalog) -> Any:
    ts = now_ms()
    payload = pb.Payload(timestamp=ts)
    _bdseq_metric(payload, bdseq, ts)
    rebirth = payload.metrics.add()  # never aliased: a host must be able to ask for a rebirth by name
    rebirth.name = REBIRTH
    rebirth.timestamp = ts
    rebirth.datatype = pb.Boolean
    rebirth.boolean_value = False
    for definition in catalog.node.metrics.values():
        _birth_metric(payload, definition, ts)
    return payload


def dbirth(device: DeviceDef) -> Any:
    ts = now_ms()
    payload = pb.Payload(timestamp=ts)
    for definition in device.metrics.values():
        _birth_metric(payload, definition, ts)
    return payload


def ddeath() -> Any:
    return pb.Payload(timestamp=now_ms())
