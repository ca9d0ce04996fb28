"""The pipeline: the one ``RecordSink`` every driver writes to.

``put`` applies the alarm and deadband rules and queues what survives; a single writer task hands
queued records to the outbox in batches (the outbox group-commits them). The bounded queue gives
drivers back-pressure instead of unbounded memory growth when the disk is slow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import suppress
from dataclasses import dataclass

from agent.errors import OutboxError
from agent.logs import RateLimiter, log_limited
from agent.outbox.api import OutboxWriter
from agent.pipeline.alarms import AlarmEvaluator
from agent.pipeline.deadband import DeadbandFilter
from agent.records import Reading, Record
from agent.rules import PointRule

log = logging.getLogger(__name__)

_WATCH_QUEUE = 1000


@dataclass
class PipelineCounters:
    received: int = 0
    suppressed: int = 0
    alarms: int = 0
    accepted: int = 0
    accept_failures: int = 0


class Pipeline:
    def __init__(self, outbox: OutboxWriter, heartbeat_s: float, queue_size: int, batch: int = 2000) -> None:
        self._outbox = outbox
        self._deadband = DeadbandFilter(heartbeat_s)
        self._alarms = AlarmEvaluator()
        self._queue: asyncio.Queue[Record] = asyncio.Queue(maxsize=queue_size)
        self._batch = batch
        self._watchers: set[asyncio.Queue[Record | None]] = set()
        self._closed = False
        self._limiter = RateLimiter()
        self.counters = PipelineCounters()

    def apply_rules(self, rules: Iterable[PointRule]) -> None:
        for rule in rules:
            self._deadband.configure(rule.device, rule.point, rule.deadband, rule.heartbeat_s)
            self._alarms.configure(rule.device, rule.point, rule.alarms)

    @property
    def active_alarms(self) -> frozenset[tuple[str, str, str]]:
        return self._alarms.active

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def put(self, record: Record) -> None:
        """Accept a record from a driver. Blocks while the outbox is behind (back-pressure)."""
        if self._closed:
            return
        self.counters.received += 1
        if isinstance(record, Reading):
            for event in self._alarms.evaluate(record):
                self.counters.alarms += 1
                await self._enqueue(event)
            if not self._deadband.passes(record):
                self.counters.suppressed += 1
                return
        await self._enqueue(record)

    async def _enqueue(self, record: Record) -> None:
        await self._queue.put(record)
        for watcher in list(self._watchers):
            if watcher.full():
                continue  # a slow `edgepost watch` loses lines, never slows the pipeline
            watcher.put_nowait(record)

    async def run(self) -> None:
        """Move queued records into the outbox until cancelled; a failed batch is retried, not lost."""
        batch: list[Record] = []
        while True:
            if not batch:
                batch.append(await self._queue.get())
            while len(batch) < self._batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._outbox.accept(batch)
            except OutboxError as exc:
                self.counters.accept_failures += 1
                log_limited(
                    self._limiter, log, "accept", "outbox_accept_failed", error=str(exc), batch=len(batch)
                )
                await asyncio.sleep(0.5)
                continue
            self.counters.accepted += len(batch)
            for _ in batch:
                self._queue.task_done()
            batch = []

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
