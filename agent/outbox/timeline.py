"""Accept time -> seq bounds without an index on ``accepted_at``.

``accepted_at`` never decreases with ``seq`` (seqs.SeqAllocator.stamp), so the first record accepted
at or after a time is found by bisecting on the rowid: each probe is one primary-key seek
(``seq >= ? ORDER BY seq LIMIT 1``), O(log n) probes in all, and no index to maintain on insert.
"""

from __future__ import annotations

import sqlite3

_FIRST = "SELECT seq, accepted_at FROM records WHERE seq >= ? ORDER BY seq LIMIT 1"
_TOP = "SELECT seq, accepted_at FROM records ORDER BY seq DESC LIMIT 1"


def first_seq_accepted_at_or_after(conn: sqlite3.Connection, t: float, low: int = 0) -> int | None:
    """The lowest seq >= ``low`` whose accepted_at >= ``t``, or None if there is none.

    Outside a transaction records may be deleted between probes: the answer can then be a little
    low (never past a record that matches), so callers keep their ``accepted_at`` filter.
    """
    top = conn.execute(_TOP).fetchone()
    if top is None or int(top[0]) < low or float(top[1]) < t:
        return None
    lo, hi = low, int(top[0])
    # smallest x in [lo, hi] whose first record at or after x matches; monotone in x
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute(_FIRST, (mid,)).fetchone()
        if row is None or float(row[1]) >= t:
            hi = mid
        else:
            lo = int(row[0]) + 1  # every seq up to this record is older than t
    row = conn.execute(_FIRST, (lo,)).fetchone()
    return int(row[0]) if row is not None else None
