"""Seqs a run may have given to records it held only in RAM: skipped at the next start, announced.

While degraded (disk read-only, full or failing) accepted records live only in RAM with seqs from the
reservation in ``seq.hwm`` (seqs.py). If the run then dies, nothing on disk says which of those seqs
went out, and consumers dedup by ``(gateway, seq)``: handing one out again would make them drop a
real record as a duplicate. So a start that finds reserved seqs above the database's last seq (any
stop that was not clean leaves them) skips them all and says so with one gap event, reason
``lost_in_ram``: ``count`` seqs from ``first_seq`` to ``last_seq``, an upper bound on the records
lost (after a crash while the disk was fine, none were used).
"""

from __future__ import annotations

import logging

from agent.logs import log_event
from agent.outbox.seqs import SeqAllocator
from agent.records import Event, Priority

log = logging.getLogger("agent.outbox")


def skip_unrecorded(seqs: SeqAllocator, gateway: str, now: float) -> list[Event]:
    """At start (not after a writer restart: that process knows what it handed out): skip the
    reserved seqs above the last one on disk; the gap event to store, if any were skipped."""
    skipped = seqs.unrecorded()
    if skipped is None:
        return []
    first, last = skipped
    seqs.raise_floor(last + 1)
    log_event(log, "outbox_seqs_skipped", logging.WARNING, first_seq=first, last_seq=last, reason="lost_in_ram")
    return [lost_in_ram_event(gateway, first, last, seqs.last_accepted_at or now, now)]


def lost_in_ram_event(gateway: str, first_seq: int, last_seq: int, since: float, now: float) -> Event:
    """``since``: accept time of the newest record on disk; lost records were accepted after it."""
    return Event(
        device=gateway,
        kind="gap",
        ts=now,
        priority=Priority.EVENT,
        data={
            "device": gateway,
            "first_ts": since,
            "last_ts": now,
            "count": last_seq - first_seq + 1,
            "reason": "lost_in_ram",
            "first_seq": first_seq,
            "last_seq": last_seq,
        },
    )
