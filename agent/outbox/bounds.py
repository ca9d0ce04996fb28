"""Keeping the outbox bounded: size measurement, eviction, TTL expiry, purge, and their gap events.

Every function here runs inside a transaction the caller opened on the write connection.
Nothing is dropped silently: each removal is summarised per device as a ``Gap``, which the
caller stores as a gap event in the same transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from agent.outbox.schema import lane_clause
from agent.outbox.timeline import first_seq_accepted_at_or_after
from agent.records import Event, Priority

GapReason = Literal["evicted", "expired", "purged", "rejected"]  # and "lost_in_ram" (unrecorded.py)

# eviction order for the evict-oldest-telemetry policy: telemetry first, alarms last
EVICTION_ORDER = (Priority.TELEMETRY, Priority.EVENT, Priority.ALARM)


@dataclass(frozen=True, slots=True)
class Gap:
    device: str
    first_ts: float
    last_ts: float
    count: int


_USED = (
    "SELECT page_size, page_count, freelist_count"
    " FROM pragma_page_size(), pragma_page_count(), pragma_freelist_count()"
)


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes held by live pages: read from the header, no stat and no scan (one statement: this runs
    after every commit)."""
    page_size, pages, free = conn.execute(_USED).fetchone()
    return (int(pages) - int(free)) * int(page_size)


def _gaps(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> list[Gap]:
    sql = f"SELECT device, MIN(ts), MAX(ts), COUNT(*) FROM records WHERE {where} GROUP BY device"
    return [Gap(d, float(a), float(b), int(n)) for d, a, b, n in conn.execute(sql, params)]


def evict_lane(conn: sqlite3.Connection, priority: Priority, count: int) -> list[Gap]:
    """Delete the ``count`` oldest records of one lane (by seq)."""
    if count <= 0:
        return []
    lane = lane_clause(priority)
    row = conn.execute(f"SELECT seq FROM records WHERE {lane} ORDER BY seq LIMIT 1 OFFSET ?", (count - 1,)).fetchone()
    if row is None:
        row = conn.execute(f"SELECT MAX(seq) FROM records WHERE {lane}").fetchone()
        if row is None or row[0] is None:
            return []
    where, params = f"{lane} AND seq <= ?", (int(row[0]),)
    gaps = _gaps(conn, where, params)
    conn.execute(f"DELETE FROM records WHERE {where}", params)
    return gaps


def evict(conn: sqlite3.Connection, count: int) -> list[Gap]:
    """Evict ``count`` records, oldest telemetry first, then events, alarms last."""
    gaps: list[Gap] = []
    for priority in EVICTION_ORDER:
        if count <= 0:
            break
        lane = evict_lane(conn, priority, count)
        count -= sum(g.count for g in lane)
        gaps.extend(lane)
    return gaps


def expire(conn: sqlite3.Connection, accepted_before: float, max_rows: int) -> tuple[list[Gap], bool]:
    """Delete records accepted before the TTL cutoff, at most ``max_rows`` seqs from the oldest: a seq
    range found by rowid bisection. True when expired records may be left for another step."""
    low = conn.execute("SELECT MIN(seq) FROM records").fetchone()[0]
    if low is None:
        return [], False
    first_kept = first_seq_accepted_at_or_after(conn, accepted_before)  # None: every record is older
    end = int(low) + max_rows
    bound = end if first_kept is None else min(first_kept, end)
    where, params = "seq < ? AND accepted_at < ?", (bound, accepted_before)
    gaps = _gaps(conn, where, params)
    if gaps:
        conn.execute(f"DELETE FROM records WHERE {where}", params)
    return gaps, bound == end and (first_kept is None or first_kept > end)


def purge(conn: sqlite3.Connection, device: str | None, before: float | None) -> list[Gap]:
    """Delete records of one device and/or read before ``before`` (operator request)."""
    clauses: list[str] = []
    params: list[object] = []
    if device is not None:
        clauses.append("device = ?")
        params.append(device)
    if before is not None:
        clauses.append("ts < ?")
        params.append(before)
    where = " AND ".join(clauses) or "1"
    gaps = _gaps(conn, where, tuple(params))
    if gaps:
        conn.execute(f"DELETE FROM records WHERE {where}", params)
    return gaps


def gap_events(gaps: list[Gap], reason: GapReason, now: float) -> list[Event]:
    """One gap event per device, merged if the same device appears in several lanes."""
    merged: dict[str, Gap] = {}
    for g in gaps:
        old = merged.get(g.device)
        if old is not None:
            g = Gap(g.device, min(old.first_ts, g.first_ts), max(old.last_ts, g.last_ts), old.count + g.count)
        merged[g.device] = g
    return [
        Event(
            device=g.device,
            kind="gap",
            ts=now,
            priority=Priority.EVENT,
            data={
                "device": g.device,
                "first_ts": g.first_ts,
                "last_ts": g.last_ts,
                "count": g.count,
                "reason": reason,
            },
        )
        for g in merged.values()
    ]
