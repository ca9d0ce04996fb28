"""Publish outbox records within the in-flight window; delete them only after their PUBACK."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.outbox.api import OutboxReader, StoredRecord
from agent.uplink.codecs.base import Codec, EncodedBatch
from agent.uplink.counters import UplinkCounters
from agent.uplink.drain import Chunk, DrainScheduler
from agent.uplink.mqtt_client import EdgeMqttClient
from agent.uplink.topics import Topics

AckListener = Callable[[tuple[int, ...]], None]  # seqs of one PUBACKed message
IDLE_POLL_S = 1.0  # re-check for records that aged from live into backlog while idle
INLINE_ENCODE_MAX = 1000  # records; larger or compressed chunks are encoded in a worker thread
DELETE_BATCH = 10_000  # acked seqs that are deleted at once without waiting
DELETE_COALESCE_S = 0.05
MAX_UNDELETED = 50_000


def batch_properties(batch: EncodedBatch) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = batch.content_type
    props.UserProperty = [("enc", batch.encoding), ("hist", "1" if batch.historical else "0")]
    return props


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
            await self.flush()

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
                chunk = await self._scheduler.next_chunk()
                if chunk is None:
                    self._window.release()
                    await self._idle()
                    continue
                if len(chunk.records) <= INLINE_ENCODE_MAX and not (
                    chunk.historical and self._codec.compress_historical
                ):
                    # A small plain batch encodes in well under a millisecond; a thread hop would cost
                    # more than it saves (the GIL serialises the work anyway). zlib releases the GIL.
                    batches = self._encode(chunk)
                else:
                    batches = await asyncio.to_thread(self._encode, chunk)
                for i, (topic, batch) in enumerate(batches):
                    if i:
                        await self._window.acquire()
                    tg.create_task(self._publish(topic, batch))

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

    def _encode(self, chunk: Chunk) -> list[tuple[str, EncodedBatch]]:
        readings: list[StoredRecord] = [r for r in chunk.records if r.kind == "reading"]
        events: list[StoredRecord] = [r for r in chunk.records if r.kind != "reading"]
        out: list[tuple[str, EncodedBatch]] = []
        # Alarms/events first, as their lane already says; readings of a chunk are one lane anyway.
        for topic, records in ((self._topics.events, events), (self._topics.telemetry, readings)):
            if records:
                out.extend((topic, b) for b in self._codec.encode(records, chunk.historical))
        return out

    async def _publish(self, topic: str, batch: EncodedBatch) -> None:
        try:
            self._counters.published += 1
            self._counters.bytes_published += len(batch.payload)
            if batch.historical:
                self._counters.historical_batches += 1
            props = batch_properties(batch) if self._mqtt5 else None
            await self._client.publish_acked(topic, batch.payload, properties=props, timeout=self._timeout)
        finally:
            self._window.release()
        self._counters.acked += 1
        self._deleter.add(batch.seqs)
        for listener in self._ack_listeners:
            listener(batch.seqs)
