"""Records <-> compact SQLite rows (orjson bodies)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import Any, Literal, TypeAlias

import orjson

from agent.outbox.api import StoredRecord
from agent.records import JsonValue, Priority, Reading, Record

READING = 0
EVENT = 1

# (priority, kind, device, ts, body) -- seq and accepted_at are added at commit time
NewRow: TypeAlias = tuple[int, int, str, float, str]
# (seq, priority, kind, device, ts, accepted_at, body) -- column order of the records table
Row: TypeAlias = tuple[int, int, int, str, float, float, str]

COLUMNS = "seq, priority, kind, device, ts, accepted_at, body"
INSERT_SQL = f"INSERT INTO records ({COLUMNS}) VALUES (?,?,?,?,?,?,?)"
# rows per multi-row INSERT, largest first (64 x 7 parameters stays under SQLite's oldest limit, 999)
_CHUNKS = (64, 16, 4)
_INSERT_CHUNK = {n: f"INSERT INTO records ({COLUMNS}) VALUES " + ",".join(["(?,?,?,?,?,?,?)"] * n) for n in _CHUNKS}


def insert_rows(conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Insert ``rows`` in order, up to 64 per statement.

    ``executemany`` of a one-row INSERT steps the statement once per row, and the sqlite3 module
    releases and takes back the GIL around every step: while the event loop is busy (drivers putting
    readings) each row then waits for the GIL, which halved the writer's rate. One statement per 64
    rows waits 64 times less often.
    """
    start, total = 0, len(rows)
    for size in _CHUNKS:
        end = start + (total - start) // size * size
        if end > start:
            sql = _INSERT_CHUNK[size]
            conn.executemany(sql, [tuple(chain.from_iterable(rows[i : i + size])) for i in range(start, end, size)])
        start = end
    if start < total:
        conn.executemany(INSERT_SQL, rows[start:])


_TELEMETRY = int(Priority.TELEMETRY)


def encode(record: Record) -> NewRow:
    if isinstance(record, Reading):
        # orjson writes the Quality enum as its value and a tuple as a JSON array
        body = orjson.dumps((record.point, record.value, record.unit, record.quality)).decode()
        return (_TELEMETRY, READING, record.device, record.ts, body)
    body = orjson.dumps((record.kind, record.data)).decode()
    return (int(record.priority), EVENT, record.device, record.ts, body)


def encode_many(records: Sequence[Record]) -> list[NewRow]:
    """``encode`` over a batch, with the common case (a Reading) inlined: this is the ingest hot path.

    Bodies are kept as ``str``: orjson's ``bytes`` carry a ~4 KiB allocation each, which made a
    queue of pending rows cost 60x its size; the decoded copy is exact.
    """
    dumps = orjson.dumps
    out: list[NewRow] = []
    append = out.append
    for r in records:
        if r.__class__ is Reading:
            append((_TELEMETRY, READING, r.device, r.ts, dumps((r.point, r.value, r.unit, r.quality)).decode()))
        else:
            append(encode(r))
    return out


_PRIORITIES = tuple(Priority)
_KINDS: tuple[Literal["reading", "event"], ...] = ("reading", "event")


# The frozen dataclass's __init__ goes through object.__setattr__ once per field (~0.8 us a record,
# a fifth of the drain's CPU); writing the slots through their descriptors costs half of that.
_SLOTS = tuple(
    StoredRecord.__dict__[name].__set__
    for name in ("seq", "priority", "kind", "device", "ts", "accepted_at", "body", "ram")
)


def decode_many(rows: Sequence[tuple[Any, ...]], ram: bool = False) -> list[StoredRecord]:
    """Rows -> StoredRecords (``ram``: rows of the degraded-mode spill); the drain's hot path, so
    lookups are hoisted out of the loop."""
    loads, new, cls, priorities, kinds = orjson.loads, object.__new__, StoredRecord, _PRIORITIES, _KINDS
    set_seq, set_priority, set_kind, set_device, set_ts, set_accepted_at, set_body, set_ram = _SLOTS
    out: list[StoredRecord] = []
    append = out.append
    for seq, priority, kind, device, ts, accepted_at, text in rows:
        parts = loads(text)
        body: dict[str, JsonValue]
        if kind == READING:
            body = {"point": parts[0], "value": parts[1], "unit": parts[2], "quality": parts[3]}
        else:
            body = {"kind": parts[0], "data": parts[1]}
        record = new(cls)
        set_seq(record, seq)
        set_priority(record, priorities[priority])
        set_kind(record, kinds[kind])
        set_device(record, device)
        set_ts(record, ts)
        set_accepted_at(record, accepted_at)
        set_body(record, body)
        set_ram(record, ram)
        append(record)
    return out
