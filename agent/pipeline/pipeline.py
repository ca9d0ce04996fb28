"""The pipeline: the one ``RecordSink`` every driver writes to.

``put`` applies the alarm, care and deadband rules and queues what survives; a single writer task hands
queued records to the outbox in batches (the outbox group-commits them). The bounded queue gives
drivers back-pressure instead of unbounded memory growth when the disk is slow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import suppress
from dataclasses import dataclass

from agent.errors import OutboxError, RecordRejected
from agent.logs import RateLimiter, log_limited
from agent.outbox.api import OutboxWriter
from agent.pipeline.alarms import AlarmEvaluator
from agent.pipeline.care.keeper import CareKeeper
from agent.pipeline.deadband import DeadbandFilter
from agent.pipeline.record_queue import RecordQueue
from agent.records import Reading, Record
from agent.rules import CareRule, PointRule

log = logging.getLogger(__name__)

_WATCH_QUEUE = 1000


@dataclass
class PipelineCounters:
    received: int = 0
    suppressed: int = 0
    alarms: int = 0
    accepted: int = 0
    accept_failures: int = 0
    rejected: int = 0
    outbox_full: int = 0  # refused by the outbox's reject-new policy (a gap event reports them upstream)


class Pipeline:
    def __init__(
        self,
        outbox: OutboxWriter,
        heartbeat_s: float,
        queue_size: int,
        batch: int = 2000,
        alarms: AlarmEvaluator | None = None,
        care: CareKeeper | None = None,
    ) -> None:
        self._outbox = outbox
        self._deadband = DeadbandFilter(heartbeat_s)
        self._alarms = alarms or AlarmEvaluator()
        self._care = care
        self._queue: RecordQueue[Record] = RecordQueue(queue_size)
        self._in_hand: list[Record] = []  # taken from the queue, not yet committed
        self._batch = batch
        self._watchers: set[asyncio.Queue[Record | None]] = set()
        self._closed = False
        self._limiter = RateLimiter()
        self.counters = PipelineCounters()

    async def apply_rules(self, rules: Iterable[PointRule], devices: Iterable[str] | None = None) -> None:
        """Set the points' rules. With ``devices`` (a driver's whole inventory) they are all of those
        devices' rules: an active alarm of theirs without a rule any more is cleared upstream."""
        rules = list(rules)
        for rule in rules:
            self._deadband.configure(rule.device, rule.point, rule.deadband, rule.heartbeat_s)
        if devices is not None:
            events = self._alarms.configure_devices(devices, rules)
        else:
            events = [e for rule in rules for e in self._alarms.configure(rule.device, rule.point, rule.alarms)]
        for event in events:
            await self._enqueue(event)

    async def apply_care(self, rules: Iterable[CareRule]) -> None:
        """Set every care rule (config ``care:``); an active care alarm without a rule any more is cleared."""
        if self._care is None:
            raise RuntimeError("this pipeline was built without care rules")
        for event in await self._care.configure(rules):
            await self._enqueue(event)

    async def forget(self, devices: Iterable[str]) -> None:
        """Devices a reload removed: their state goes, their active alarms are cleared upstream."""
        for device in devices:
            self._deadband.forget(device)
            events = self._alarms.forget(device)
            if self._care is not None:
                events += await self._care.forget(device)
            for event in events:
                await self._enqueue(event)

    @property
    def active_alarms(self) -> frozenset[tuple[str, str, str]]:
        care = self._care.active if self._care is not None else frozenset()
        return self._alarms.active | care

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def put(self, record: Record) -> None:
        """Accept a record from a driver. Blocks while the outbox is behind (back-pressure)."""
        if self._closed:
            return
        self.counters.received += 1
        if isinstance(record, Reading):
            events = self._alarms.evaluate(record)
            if self._care is not None:
                events += await self._care.observe(record)
            for event in events:
                self.counters.alarms += 1
                await self._enqueue(event)
            if not self._deadband.passes(record):
                self.counters.suppressed += 1
                return
        # inlined _enqueue: this runs once per reading of every driver
        if not self._queue.try_put(record):
            await self._queue.put(record)
        if self._watchers:
            self._to_watchers(record)

    async def _enqueue(self, record: Record) -> None:
        await self._queue.put(record)
        if self._watchers:
            self._to_watchers(record)

    def _to_watchers(self, record: Record) -> None:
        for watcher in list(self._watchers):
            if watcher.full():
                continue  # a slow `edgepost watch` loses lines, never slows the pipeline
            watcher.put_nowait(record)

    async def run(self) -> None:
        """Move queued records into the outbox until cancelled; a failed batch is retried, not lost.

        The batch in hand lives on the instance, so a run() restarted by the supervisor resumes it.
        """
        while True:
            if not self._in_hand:
                self._in_hand = await self._queue.get_batch(self._batch)
            elif len(self._in_hand) < self._batch:
                self._in_hand.extend(self._queue.get_nowait_batch(self._batch - len(self._in_hand)))
            try:
                await self._commit_in_hand()
            except OutboxError as exc:
                self.counters.accept_failures += 1
                log_limited(
                    self._limiter, log, "accept", "outbox_accept_failed", error=str(exc), batch=len(self._in_hand)
                )
                await asyncio.sleep(0.5)

    async def _commit_in_hand(self) -> None:
        try:
            seqs = await self._outbox.accept(self._in_hand)
        except RecordRejected:
            await self._commit_one_by_one()
            return
        refused = seqs.count(None)
        self.counters.accepted += len(seqs) - refused
        self.counters.outbox_full += refused
        self._done(len(self._in_hand))

    async def _commit_one_by_one(self) -> None:
        """Rare path: a record that can never be stored must not hold up the ones around it."""
        while self._in_hand:
            record = self._in_hand[0]
            try:
                [seq] = await self._outbox.accept([record])
                if seq is None:
                    self.counters.outbox_full += 1
                else:
                    self.counters.accepted += 1
            except RecordRejected as exc:
                self.counters.rejected += 1
                log_limited(self._limiter, log, f"rejected:{record.device}", "record_rejected",
                            device=record.device, error=str(exc))
            self._done(1)

    def _done(self, count: int) -> None:
        """The first ``count`` records in hand are settled (committed or dropped): release them."""
        del self._in_hand[:count]
        self._queue.task_done(count)

    async def drain(self, timeout_s: float = 20.0) -> bool:
        """Stop intake and wait until ``run`` committed everything queued (SIGTERM path).

        Returns False when the outbox did not take it all within ``timeout_s``.
        """
        self._closed = True
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except TimeoutError:
            return False
        finally:
            for watcher in list(self._watchers):
                with suppress(asyncio.QueueFull):
                    watcher.put_nowait(None)
        return True

    async def subscribe(self) -> AsyncIterator[Record]:
        queue: asyncio.Queue[Record | None] = asyncio.Queue(maxsize=_WATCH_QUEUE)
        self._watchers.add(queue)
        try:
            while (record := await queue.get()) is not None:
                yield record
        finally:
            self._watchers.discard(queue)
