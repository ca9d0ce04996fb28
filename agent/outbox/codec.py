"""Records <-> compact SQLite rows (orjson bodies)."""

from __future__ import annotations

from typing import Any, TypeAlias

import orjson

from agent.outbox.api import StoredRecord
from agent.records import JsonValue, Priority, Reading, Record

READING = 0
EVENT = 1

# (priority, kind, device, ts, body) -- seq and accepted_at are added at commit time
NewRow: TypeAlias = tuple[int, int, str, float, bytes]
# (seq, priority, kind, device, ts, accepted_at, body) -- column order of the records table
Row: TypeAlias = tuple[int, int, int, str, float, float, bytes]

COLUMNS = "seq, priority, kind, device, ts, accepted_at, body"
INSERT_SQL = f"INSERT INTO records ({COLUMNS}) VALUES (?,?,?,?,?,?,?)"


def encode(record: Record) -> NewRow:
    if isinstance(record, Reading):
        body = orjson.dumps([record.point, record.value, record.unit, str(record.quality)])
        return (int(Priority.TELEMETRY), READING, record.device, float(record.ts), body)
    body = orjson.dumps([record.kind, record.data])
    return (int(record.priority), EVENT, record.device, float(record.ts), body)


def decode(row: tuple[Any, ...]) -> StoredRecord:
    seq, priority, kind, device, ts, accepted_at, blob = row
    parts = orjson.loads(blob)
    body: dict[str, JsonValue]
    if kind == READING:
        body = {"point": parts[0], "value": parts[1], "unit": parts[2], "quality": parts[3]}
    else:
        body = {"kind": parts[0], "data": parts[1]}
    return StoredRecord(
        seq=seq,
        priority=Priority(priority),
        kind="reading" if kind == READING else "event",
        device=device,
        ts=ts,
        accepted_at=accepted_at,
        body=body,
    )
