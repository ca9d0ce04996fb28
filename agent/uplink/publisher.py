"""Publish outbox records within the in-flight window; delete them only after their PUBACK."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.errors import OutboxError
from agent.logs import RateLimiter, log_limited
from agent.outbox.api import OutboxReader, StoredRecord
from agent.uplink.codecs.base import Codec, EncodedBatch
from agent.uplink.command_results import command_result_properties, encode_command_result, is_command_result
from agent.uplink.counters import UplinkCounters
from agent.uplink.drain import Chunk, DrainScheduler
from agent.uplink.mqtt_client import EdgeMqttClient
from agent.uplink.snapshots import encode_snapshot, event_id_of, is_snapshot, snapshot_properties
from agent.uplink.topics import Topics

log = logging.getLogger(__name__)

AckListener = Callable[[tuple[int, ...]], None]  # seqs of one PUBACKed message
IDLE_POLL_S = 1.0  # re-check for records that aged from live into backlog while idle
INLINE_ENCODE_MAX = 1000  # records; larger or compressed chunks are encoded in a worker thread
DELETE_BATCH = 10_000  # acked seqs that are deleted at once without waiting
DELETE_COALESCE_S = 0.05
MAX_UNDELETED = 50_000
DELETE_RETRY_S = 1.0  # a delete that did not commit is tried again after this
BACKLOG_RESERVE_DIVISOR = 4  # a quarter of the in-flight window is kept for live records


def batch_properties(batch: EncodedBatch) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = batch.content_type
    props.UserProperty = [("enc", batch.encoding), ("hist", "1" if batch.historical else "0")]
    return props


def all_readings(records: list[StoredRecord]) -> bool:
    """Every record is a reading (one set comprehension: cheaper than a test per record in Python)."""
    return {r.kind for r in records} == {"reading"}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One MQTT message of a chunk: a batch, or a single snapshot on its own topic."""

    topic: str
    batch: EncodedBatch
    properties: Properties | None  # MQTT 5 only
    snapshot: bool = False


class AckedDeleter:
    """Collects seqs whose PUBACK arrived and deletes them from the outbox in coalesced calls."""

    def __init__(self, outbox: OutboxReader, scheduler: DrainScheduler, counters: UplinkCounters) -> None:
        self._outbox = outbox
        self._scheduler = scheduler
        self._counters = counters
        self._seqs: list[int] = []
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._caught_up = asyncio.Condition()
        self._limiter = RateLimiter()

    def add(self, seqs: Sequence[int]) -> None:
        self._seqs.extend(seqs)
        self._ready.set()

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            if len(self._seqs) < DELETE_BATCH:
                # Each delete is a commit (an fsync when power-safe): gather PUBACKs for a moment first.
                # A crash in between only means those records are sent again (same seq).
                await asyncio.sleep(DELETE_COALESCE_S)
            try:
                await self.flush()
            except OutboxError as exc:
                # Not deleted: the seqs stay listed (and pending, so they are not sent again); retry.
                self._counters.delete_failures += 1
                log_limited(self._limiter, log, "delete", "outbox_delete_failed", error=str(exc), seqs=len(self._seqs))
                await asyncio.sleep(DELETE_RETRY_S)
                self._ready.set()

    async def flush(self) -> None:
        async with self._lock:
            while self._seqs:
                seqs = list(self._seqs)
                await self._outbox.delete(seqs)
                # Dropped from the list only once deleted: a cancelled delete is retried by the next flush.
                del self._seqs[: len(seqs)]
                self._scheduler.acked(seqs)
                self._counters.records_acked += len(seqs)
                async with self._caught_up:
                    self._caught_up.notify_all()

    async def wait_caught_up(self) -> None:
        """Back-pressure: hold the drain while more than MAX_UNDELETED acked records await deletion,
        so a slow disk cannot make the pending set (memory) grow without bound."""
        if len(self._seqs) <= MAX_UNDELETED:
            return
        async with self._caught_up:
            await self._caught_up.wait_for(lambda: len(self._seqs) <= MAX_UNDELETED)


class BatchPublisher:
    """One session's drain loop: chunk -> encode (thread) -> QoS 1 publish, at most ``inflight`` at once."""

    def __init__(
        self,
        client: EdgeMqttClient,
        topics: Topics,
        codec: Codec,
        scheduler: DrainScheduler,
        deleter: AckedDeleter,
        counters: UplinkCounters,
        inflight: int,
        mqtt5: bool,
        publish_timeout_s: float,
        wake: asyncio.Event,
        ack_listeners: Sequence[AckListener] = (),
    ) -> None:
        self._ack_listeners = ack_listeners
        self._client = client
        self._topics = topics
        self._codec = codec
        self._scheduler = scheduler
        self._deleter = deleter
        self._counters = counters
        self._window = asyncio.Semaphore(inflight)
        # The backlog may fill only part of the window: live records always find a slot, and fewer
        # backlog messages sit ahead of them in the broker's queue.
        self._backlog_limit = max(1, inflight - max(1, inflight // BACKLOG_RESERVE_DIVISOR))
        self._backlog_inflight = 0
        self._mqtt5 = mqtt5
        self._timeout = publish_timeout_s
        self._wake = wake

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                # Take the window slot before choosing the chunk, so a live record that arrived while
                # the window was full goes out in the very next message.
                await self._deleter.wait_caught_up()
                await self._window.acquire()
                chunk = await self._scheduler.next_chunk(backlog=self._backlog_inflight < self._backlog_limit)
                if chunk is None:
                    self._window.release()
                    await self._idle()
                    continue
                readings_only = all_readings(chunk.records)
                if self._encode_inline(chunk, readings_only):
                    # A small plain batch encodes in well under a millisecond; a thread hop would cost
                    # more than it saves (the GIL serialises the work anyway). zlib releases the GIL.
                    messages = self._encode(chunk, readings_only)
                else:
                    messages = await asyncio.to_thread(self._encode, chunk, readings_only)
                for i, message in enumerate(messages):
                    if i:
                        await self._window.acquire()
                    if message.batch.historical:
                        self._backlog_inflight += 1
                    tg.create_task(self._publish(message))

    def _encode_inline(self, chunk: Chunk, readings_only: bool) -> bool:
        if len(chunk.records) > INLINE_ENCODE_MAX or (chunk.historical and self._codec.compress_historical):
            return False
        # pictures are 100 kB each: off the loop
        return readings_only or not any(is_snapshot(r) for r in chunk.records)

    async def _idle(self) -> None:
        if self._scheduler.pending == 0:
            self._scheduler.idle_sweep()
        waiter = asyncio.ensure_future(self._scheduler.wait_for_records(IDLE_POLL_S))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            woken.cancel()
        self._wake.clear()

    def _encode(self, chunk: Chunk, readings_only: bool = False) -> list[Outgoing]:
        if readings_only:  # a backlog drain's common chunk: no split
            return self._encode_batches(self._topics.telemetry, chunk.records, chunk.historical)
        readings: list[StoredRecord] = []
        events: list[StoredRecord] = []
        snapshots: list[StoredRecord] = []
        answers: list[StoredRecord] = []
        for r in chunk.records:
            if r.kind == "reading":
                readings.append(r)
            elif is_snapshot(r):
                snapshots.append(r)
            elif is_command_result(r):
                answers.append(r)
            else:
                events.append(r)
        # Command answers and alarms/events first, as their lane already says; then each snapshot after
        # the events it shows.
        return (
            self._encode_answers(answers, chunk.historical)
            + self._encode_batches(self._topics.events, events, chunk.historical)
            + self._encode_snapshots(snapshots, chunk.historical)
            + self._encode_batches(self._topics.telemetry, readings, chunk.historical)
        )

    def _encode_batches(self, topic: str, records: list[StoredRecord], historical: bool) -> list[Outgoing]:
        if not records:
            return []
        batches = self._codec.encode(records, historical)
        return [Outgoing(topic, b, batch_properties(b) if self._mqtt5 else None) for b in batches]

    def _encode_answers(self, records: list[StoredRecord], historical: bool) -> list[Outgoing]:
        props = command_result_properties() if self._mqtt5 and records else None
        return [
            Outgoing(self._topics.command_results,
                     encode_command_result(r, self._codec.max_payload_bytes, historical), props)
            for r in records
        ]

    def _encode_snapshots(self, records: list[StoredRecord], historical: bool) -> list[Outgoing]:
        out: list[Outgoing] = []
        for record in records:
            batch = encode_snapshot(record, self._codec.gateway_id, self._codec.max_payload_bytes, historical)
            props = snapshot_properties(batch, event_id_of(record)) if self._mqtt5 else None
            out.append(Outgoing(self._topics.snapshots, batch, props, snapshot=True))
        return out

    async def _publish(self, message: Outgoing) -> None:
        batch = message.batch
        try:
            self._counters.published += 1
            self._counters.bytes_published += len(batch.payload)
            if batch.historical:
                self._counters.historical_batches += 1
            await self._client.publish_acked(
                message.topic, batch.payload, properties=message.properties, timeout=self._timeout
            )
        finally:
            self._window.release()
            if batch.historical:
                self._backlog_inflight -= 1
                self._wake.set()  # a drain held back by the backlog share of the window may go on
        self._counters.acked += 1
        if message.snapshot:
            self._counters.snapshots += 1
        self._deleter.add(batch.seqs)
        for listener in self._ack_listeners:
            listener(batch.seqs)
