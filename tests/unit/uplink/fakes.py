"""A small in-memory OutboxReader/OutboxWriter for uplink unit tests (the real one is agent.outbox)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from agent.outbox.api import OutboxStats, StoredRecord
from agent.records import Event, Priority, Reading, Record


def stored(record: Record, seq: int, accepted_at: float) -> StoredRecord:
    if isinstance(record, Reading):
        body = {"point": record.point, "value": record.value, "unit": record.unit,
                "quality": str(record.quality)}
        return StoredRecord(seq, Priority.TELEMETRY, "reading", record.device, record.ts, accepted_at, body)
    assert isinstance(record, Event)
    return StoredRecord(seq, record.priority, "event", record.device, record.ts, accepted_at,
                        {"kind": record.kind, "data": record.data})


class FakeOutbox:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.records: dict[int, StoredRecord] = {}
        self.last_seq = 0
        self.deleted: list[int] = []
        self.fetches = 0
        self._clock = clock
        self._changed = asyncio.Event()

    async def accept(self, records: Sequence[Record], accepted_at: float | None = None) -> list[int]:
        seqs = []
        now = self._clock() if accepted_at is None else accepted_at
        for r in records:
            self.last_seq += 1
            self.records[self.last_seq] = stored(r, self.last_seq, now)
            seqs.append(self.last_seq)
        self._changed.set()
        return seqs

    async def fetch(self, limit: int, *, after_seq: int = 0, priority: Priority | None = None,
                    accepted_since: float | None = None,
                    accepted_before: float | None = None,
                    max_body_bytes: int | None = None) -> list[StoredRecord]:
        self.fetches += 1  # the byte budget only matters for big stored bodies; the fake ignores it
        out = []
        for seq in sorted(self.records):
            r = self.records[seq]
            if seq <= after_seq or (priority is not None and r.priority != priority):
                continue
            if accepted_since is not None and r.accepted_at < accepted_since:
                continue
            if accepted_before is not None and r.accepted_at >= accepted_before:
                continue
            out.append(r)
            if len(out) >= limit:
                break
        return out

    async def delete(self, seqs: Sequence[int]) -> None:
        for s in seqs:
            if self.records.pop(s, None) is not None:
                self.deleted.append(s)

    async def wait_for_records(self, after_seq: int, timeout: float | None = None) -> bool:
        while self.last_seq <= after_seq:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                return self.last_seq > after_seq
        return True

    async def stats(self) -> OutboxStats:
        return OutboxStats(len(self.records), {}, None, 0, 0, 0, 0, self.last_seq, None)
