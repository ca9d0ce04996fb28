"""Turn ``Runtime.status()`` and outbox stats into Prometheus samples.

The status document grows as components add counters, so the mapping is structural rather than a
fixed list: numeric leaves become samples named by their path, the members of known collections
(``drivers``, ``buses``, ``devices``, ``cameras``...) become labels, ``state`` strings become a
``..._state{state="online"} 1`` sample, and booleans become 0/1. Children of a ``line`` dict (the
per-unit bus counters) are monotonic and become ``..._total`` counters.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

from agent.outbox.api import OutboxStats
from agent.records import JsonValue

PREFIX = "edgepost"

# status keys whose children are named members: the child's key becomes this label
COLLECTIONS: dict[str, str] = {
    "drivers": "driver",
    "buses": "bus",
    "devices": "device",
    "cameras": "camera",
    "models": "model",
    "sources": "source",
    "points": "point",
    "lanes": "lane",
    "by_priority": "priority",
}

# status keys whose numeric children only ever grow: exposed as ``..._total`` counters
COUNTER_GROUPS = frozenset({"line"})

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def metric_name(*parts: str) -> str:
    name = "_".join(_INVALID.sub("_", p).strip("_") for p in parts if p)
    name = re.sub("_+", "_", name)
    return name if not name[:1].isdigit() else f"_{name}"


def _walk(node: JsonValue, path: list[str], labels: dict[str, str], out: list[Sample], members: bool) -> None:
    """``members``: ``node`` is a collection, so its keys are names (labels), not metric-name parts."""
    if isinstance(node, dict):
        label = COLLECTIONS.get(path[-1]) if members and path else None
        for key, child in node.items():
            if label is not None:  # {bus1: {...}} or {alarm: 3}: the key is a label value
                _walk(child, path, {**labels, label: key}, out, members=False)
            else:
                _walk(child, [*path, key], labels, out, members=key in COLLECTIONS)
        return
    label_items = tuple(sorted(labels.items()))
    counter = len(path) >= 2 and path[-2] in COUNTER_GROUPS
    name = metric_name(PREFIX, *path, "total" if counter else "")
    if isinstance(node, bool):
        out.append(Sample(name, 1.0 if node else 0.0, label_items))
    elif isinstance(node, int | float):
        if not math.isnan(float(node)):
            out.append(Sample(name, float(node), label_items))
    elif isinstance(node, str) and path and path[-1] in ("state", "status"):
        out.append(Sample(name, 1.0, tuple(sorted({**labels, path[-1]: node}.items()))))


def from_status(status: dict[str, JsonValue]) -> list[Sample]:
    samples: list[Sample] = []
    _walk(status, [], {}, samples, members=False)
    return samples


def from_outbox(stats: OutboxStats | None, now: float | None = None) -> list[Sample]:
    if stats is None:
        return [Sample(metric_name(PREFIX, "outbox", "up"), 0.0)]
    now = time.time() if now is None else now
    samples = [
        Sample(metric_name(PREFIX, "outbox", "up"), 1.0),
        Sample(metric_name(PREFIX, "outbox", "records"), float(stats.records)),
        Sample(metric_name(PREFIX, "outbox", "bytes_on_disk"), float(stats.bytes_on_disk)),
        Sample(metric_name(PREFIX, "outbox", "max_bytes"), float(stats.max_bytes)),
        Sample(metric_name(PREFIX, "outbox", "evicted_total"), float(stats.evicted_total)),
        Sample(metric_name(PREFIX, "outbox", "expired_total"), float(stats.expired_total)),
        Sample(metric_name(PREFIX, "outbox", "rejected_total"), float(stats.rejected_total)),
        Sample(metric_name(PREFIX, "outbox", "last_seq"), float(stats.last_seq)),
        Sample(metric_name(PREFIX, "outbox", "degraded"), 0.0 if stats.degraded is None else 1.0),
        Sample(
            metric_name(PREFIX, "outbox", "oldest_age_seconds"),
            0.0 if stats.oldest_ts is None else max(now - stats.oldest_ts, 0.0),
        ),
    ]
    for priority, count in sorted(stats.by_priority.items()):
        name = metric_name(PREFIX, "outbox", "records_by_priority")
        samples.append(Sample(name, float(count), (("priority", priority),)))
    return samples
