"""Which outbox records go out next: lanes, live-vs-backlog share, resume after reconnect.

Two streams read the outbox through cursors:

- **live**: records accepted within ``live_window_s``, fetched across all lanes in one query;
- **backlog**: older records, fetched lane by lane (alarms, then events, then telemetry).

Alarms go first from either stream. Otherwise, when both streams have data, the backlog gets
``backlog_share`` of the chunks (weighted round-robin) and live the rest, events before telemetry in
each; records keep seq order, so per-device order holds within a lane and stream (seq orders the
rest). Records handed out stay "pending" until ``acked`` (deleted from the outbox) or ``reset``
(connection lost): nothing is ever skipped, un-acked records are simply fetched again after a reset.
Only a bounded prefetch is held in memory.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from agent.outbox.api import OutboxReader, StoredRecord
from agent.records import Priority

LANES: tuple[Priority, ...] = (Priority.ALARM, Priority.EVENT, Priority.TELEMETRY)
DRY_BACKLOG_RECHECK_S = 1.0  # an empty backlog lane is asked again after this (records age into it)
PAGE_MAX_BYTES = 8 << 20  # stored bytes per fetched page: a backlog of snapshots stays bounded in memory


class Stream(Enum):
    LIVE = "live"
    BACKLOG = "backlog"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records of one lane handed to the codec together."""

    records: list[StoredRecord]
    historical: bool
    lane: Priority


class DrainScheduler:
    def __init__(
        self,
        outbox: OutboxReader,
        batch_records: int,
        backlog_share: float,
        live_window_s: float,
        prefetch_batches: int = 4,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._batch = batch_records
        self._share = backlog_share
        self._window = live_window_s
        self._prefetch = batch_records * prefetch_batches
        self._clock = clock
        self._monotonic = monotonic
        self.high_seq = 0  # highest seq seen in any fetch
        self._pending: set[int] = set()
        self._live_cursor = 0
        self._live_seen = 0  # outbox last_seq at the last live query that saw everything
        self._backlog_cursor: dict[Priority, int] = {}
        self._buffers: dict[tuple[Stream, Priority], deque[StoredRecord]] = {}
        self._dry_until: dict[Priority, float] = {}
        self._sent = {Stream.LIVE: 0, Stream.BACKLOG: 0}
        self._prefetching: dict[Priority, asyncio.Task[bool]] = {}
        self.prefetch_error: BaseException | None = None
        self.reset()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def reset(self) -> None:
        """Forget cursors and prefetch: the next chunks start again from the oldest un-acked record."""
        for task in self._prefetching.values():
            task.cancel()
        self._prefetching.clear()
        self.prefetch_error = None
        self._pending.clear()
        self._in_live: set[int] = set()  # seqs waiting in a live buffer (fetched, not yet sent)
        self._live_cursor = 0
        self._live_seen = 0
        self._backlog_cursor = dict.fromkeys(LANES, 0)
        self._buffers = {(s, lane): deque() for s in Stream for lane in LANES}
        self._dry_until.clear()
        self._sent = {Stream.LIVE: 0, Stream.BACKLOG: 0}

    def acked(self, seqs: Iterable[int]) -> None:
        self._pending.difference_update(seqs)

    def idle_sweep(self) -> None:
        """Nothing left to hand out: rewind backlog cursors so a record a clock jump hid is still found."""
        for lane in LANES:
            if not self._buffers[(Stream.BACKLOG, lane)]:
                self._backlog_cursor[lane] = 0
                self._dry_until.pop(lane, None)

    async def next_chunk(self, backlog: bool = True) -> Chunk | None:
        """The next chunk to publish, or None when the outbox has nothing that is not pending.

        Alarms go first whichever stream holds them; then the stream the share says is due (the other
        if it has nothing), events before telemetry inside it. ``backlog=False``: live records only.
        """
        if self.prefetch_error is not None:
            raise self.prefetch_error
        cutoff = self._clock() - self._window
        for lane in LANES:
            self._age_out(self._buffers[(Stream.LIVE, lane)], lane, cutoff)
        live_checked = False
        for lanes in ((Priority.ALARM,), (Priority.EVENT, Priority.TELEMETRY)):
            for stream in self._stream_order():
                if stream is Stream.LIVE:
                    if not live_checked and not self._has_live():
                        await self._refill_live()
                    live_checked = True
                    chunk = self._take_live(lanes)
                elif backlog:
                    chunk = await self._take_backlog(lanes)
                else:
                    continue
                if chunk is not None:
                    self._sent[stream] += 1
                    return chunk
        return None

    async def wait_for_records(self, timeout: float) -> bool:
        return await self._outbox.wait_for_records(self.high_seq, timeout)

    def _stream_order(self) -> tuple[Stream, Stream]:
        total = self._sent[Stream.LIVE] + self._sent[Stream.BACKLOG]
        if total and self._sent[Stream.BACKLOG] / total >= self._share:
            return (Stream.LIVE, Stream.BACKLOG)
        return (Stream.BACKLOG, Stream.LIVE)

    def _has_live(self) -> bool:
        return any(self._buffers[(Stream.LIVE, lane)] for lane in LANES)

    def _take_live(self, lanes: tuple[Priority, ...]) -> Chunk | None:
        for lane in lanes:
            buf = self._buffers[(Stream.LIVE, lane)]
            if buf:
                return self._chunk_from(buf, lane, live=True)
        return None

    def _age_out(self, buf: deque[StoredRecord], lane: Priority, cutoff: float) -> None:
        """Unsent live records older than the window go back to the outbox's backlog stream.

        They are forgotten here (no longer pending), and the backlog cursor has not passed them (a
        backlog fetch that reaches a live-buffered record takes it over), so the next backlog fetch
        returns them in seq order: the historical stream never gets a newer record first.
        """
        if not buf or buf[0].accepted_at >= cutoff:
            return
        aged = []
        while buf and buf[0].accepted_at < cutoff:
            aged.append(buf.popleft().seq)
        self._in_live.difference_update(aged)
        self._pending.difference_update(aged)
        self._dry_until.pop(lane, None)

    async def _take_backlog(self, lanes: tuple[Priority, ...]) -> Chunk | None:
        for lane in lanes:
            buf = self._buffers[(Stream.BACKLOG, lane)]
            if not buf:
                running = self._prefetching.get(lane)
                if running is not None:
                    await asyncio.shield(running)
                # A fetch can return only records already pending (in flight): read on until one is not.
                while not buf and await self._refill_backlog(lane):
                    pass
            if buf:
                chunk = self._chunk_from(buf, lane, live=False)
                if len(buf) < self._prefetch and lane not in self._prefetching:
                    # Read ahead while this chunk is encoded and published: the SELECT overlaps the I/O.
                    task = asyncio.create_task(self._refill_backlog(lane), name=f"uplink.prefetch.{lane.name}")
                    self._prefetching[lane] = task
                    task.add_done_callback(functools.partial(self._prefetch_done, lane))
                return chunk
        return None

    def _prefetch_done(self, lane: Priority, task: asyncio.Task[bool]) -> None:
        if self._prefetching.get(lane) is task:
            del self._prefetching[lane]
        if not task.cancelled() and task.exception() is not None:
            self.prefetch_error = task.exception()

    def _chunk_from(self, buf: deque[StoredRecord], lane: Priority, live: bool) -> Chunk:
        records = [buf.popleft() for _ in range(min(self._batch, len(buf)))]
        if live:
            self._in_live.difference_update(r.seq for r in records)
        return Chunk(records, historical=not live, lane=lane)

    def _admit(self, records: list[StoredRecord]) -> list[StoredRecord]:
        seqs = [r.seq for r in records]
        pending = self._pending
        if pending.isdisjoint(seqs):  # the common case: a fetch past everything handed out
            fresh = records
        else:
            fresh = [r for r, s in zip(records, seqs, strict=True) if s not in pending]
            seqs = [r.seq for r in fresh]
        pending.update(seqs)
        if records:
            self.high_seq = max(self.high_seq, records[-1].seq)
        return fresh

    async def _refill_live(self) -> None:
        hwm = self._outbox.last_seq
        if hwm <= self._live_seen:
            return  # nothing committed since the last live query: skip it (it scans, it is not free)
        since = self._clock() - self._window
        records = await self._outbox.fetch(
            self._prefetch, after_seq=self._live_cursor, accepted_since=since, max_body_bytes=PAGE_MAX_BYTES
        )
        if records:
            self._live_cursor = records[-1].seq
            if len(records) < self._prefetch and records[-1].seq >= hwm:  # short page, not cut by the byte budget
                self._live_seen = hwm
        else:
            # Everything committed up to hwm is older than the window: the backlog stream owns it,
            # and waiting for "new" records means waiting for seqs above hwm (no busy idle loop).
            self._live_cursor = max(self._live_cursor, hwm)
            self._live_seen = hwm
            self.high_seq = max(self.high_seq, hwm)
        for r in self._admit(records):
            self._buffers[(Stream.LIVE, Priority(r.priority))].append(r)
            self._in_live.add(r.seq)

    async def _refill_backlog(self, lane: Priority) -> bool:
        """Fetch the lane's next backlog records; False when there were none (the lane is dry)."""
        now = self._monotonic()
        if self._dry_until.get(lane, 0.0) > now:
            return False
        before = self._clock() - self._window
        records = await self._outbox.fetch(
            self._prefetch,
            after_seq=self._backlog_cursor[lane],
            priority=lane,
            accepted_before=before,
            max_body_bytes=PAGE_MAX_BYTES,
        )
        if not records:
            self._dry_until[lane] = now + DRY_BACKLOG_RECHECK_S
            return False
        self._backlog_cursor[lane] = records[-1].seq
        # accepted_at never decreases with seq: everything up to here is backlog, live need not scan it.
        self._live_cursor = max(self._live_cursor, records[-1].seq)
        # A record still waiting in the live buffer is old now: the backlog stream takes it over
        # here, in seq order, so the historical stream never gets it after a newer record.
        in_live = self._in_live
        taken = {r.seq for r in records if r.seq in in_live} if in_live else None
        if taken:
            live = self._buffers[(Stream.LIVE, lane)]
            kept = [r for r in live if r.seq not in taken]
            live.clear()
            live.extend(kept)
            self._in_live.difference_update(taken)
            self._pending.difference_update(taken)
        self._buffers[(Stream.BACKLOG, lane)].extend(self._admit(records))
        return True
