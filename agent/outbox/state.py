"""What an opened outbox file tells the engine: the seq floor, the newest accept time, the row count
and the eviction/expiry totals (at start, and whenever the file is opened again)."""

from __future__ import annotations

import sqlite3

from agent.outbox.seqs import SeqAllocator
from agent.outbox.space import SpaceKeeper


def load_state(conn: sqlite3.Connection, seqs: SeqAllocator, space: SpaceKeeper, fresh: bool) -> None:
    """``fresh``: a new file (the seq sidecar remembers seqs a deleted database handed out)."""
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    # rowid seeks only: COUNT(*) would read the whole table at every start (a 2 GiB backlog). The
    # row count only sizes eviction rounds; the seq span is an upper bound, exact without holes.
    # (two scalar subqueries: SQLite seeks for a lone MIN or MAX, but scans for both in one SELECT)
    top = conn.execute("SELECT (SELECT MAX(seq) FROM records), (SELECT MIN(seq) FROM records)").fetchone()
    # accepted_at never decreases with seq: the newest record holds the largest (a rowid seek)
    newest = conn.execute("SELECT accepted_at FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    last = max(int(meta.get("last_seq", 0)), int(top[0] or 0))
    if fresh:  # a new file: the sidecar remembers seqs a deleted database handed out
        last = max(last, seqs.reserved)
    seqs.raise_floor(last + 1)
    seqs.last_accepted_at = max(seqs.last_accepted_at, float(newest[0]) if newest else 0.0)
    space.rows = int(top[0]) - int(top[1]) + 1 if top[0] is not None else 0
    space.evicted_total = int(meta.get("evicted_total", 0))
    space.expired_total = int(meta.get("expired_total", 0))
