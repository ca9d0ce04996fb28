"""One MQTT connection of the Sparkplug edge node: subscribe, wait for the primary host, birth, drain.

The drain task is the only one that stamps and sends births, deaths and data, so seq order is send
order. Commands and STATE arrive on the receive task, which only sets flags (rebirth), starts DCMD
writes, or, when the primary host goes offline, ends the session (the uplink says NDEATH, reconnects
to the next broker with the next bdSeq, and waits for the host again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from agent.logs import log_event
from agent.uplink.counters import UplinkCounters
from agent.uplink.drain import DrainScheduler
from agent.uplink.mqtt_client import EdgeMqttClient
from agent.uplink.publisher import BACKLOG_RESERVE_DIVISOR, IDLE_POLL_S, AckedDeleter, AckListener
from agent.uplink.sparkplug import payloads
from agent.uplink.sparkplug.commands import execute_write, wants_rebirth, write_requests
from agent.uplink.sparkplug.edge import SparkplugEdge
from agent.uplink.sparkplug.encoder import DataMessage
from agent.uplink.sparkplug.errors import HostOffline
from agent.uplink.sparkplug.sender import SeqSender

log = logging.getLogger(__name__)
DEVICE_POLL_S = 1.0  # how often device online/offline (DBIRTH/DDEATH) is checked


class SparkplugSession:
    def __init__(
        self,
        edge: SparkplugEdge,
        client: EdgeMqttClient,
        scheduler: DrainScheduler,
        deleter: AckedDeleter,
        counters: UplinkCounters,
        inflight: int,
        timeout_s: float,
        wake: asyncio.Event,
        ack_listeners: Sequence[AckListener] = (),
    ) -> None:
        self._edge = edge
        self._client = client
        self._scheduler = scheduler
        self._deleter = deleter
        self._counters = counters
        self._sender = SeqSender(client, counters, timeout_s)
        self._window = asyncio.Semaphore(inflight)
        self._backlog_limit = max(1, inflight - max(1, inflight // BACKLOG_RESERVE_DIVISOR))
        self._backlog_inflight = 0
        self._wake = wake
        self._ack_listeners = ack_listeners
        self._rebirth = False
        self._closing = False
        self._born = False
        self._devices_checked = 0.0

    async def run(self) -> None:
        edge, topics = self._edge, self._edge.topics
        await self._client.subscribe(topics.ncmd, qos=1)
        await self._client.subscribe(topics.dcmd_filter, qos=1)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._receive(tg), name="sparkplug.receive")
            if edge.host is not None:
                edge.host.session_started()
                await self._client.subscribe(topics.state(edge.host.host_id), qos=1)
                log_event(log, "sparkplug_waiting_for_host", host=edge.host.host_id)
                await edge.host.wait_online()
            tg.create_task(self._drain(tg), name="sparkplug.drain")

    # -- births and deaths (drain task only) --------------------------------------------------------

    def _send(self, topic: str, payload: Any) -> Coroutine[Any, Any, None]:
        return self._sender.send(topic, payload, self._edge.data_qos)

    async def _births(self) -> None:
        """NBIRTH (seq 0, this session's bdSeq), then a DBIRTH per device, DDEATH for the dead ones."""
        edge = self._edge
        self._rebirth = False
        decls = edge.devices()
        edge.catalog.declare(decls)
        for decl in decls:
            edge.catalog.devices[decl.name].alive = decl.alive
        self._sender.reset()
        pending = [self._send(edge.topics.nbirth, payloads.nbirth(edge.bdseq, edge.catalog))]
        for device in edge.catalog.devices.values():
            pending.append(self._send(edge.topics.dbirth(device.name), payloads.dbirth(device)))
            if not device.alive:
                pending.append(self._send(edge.topics.ddeath(device.name), payloads.ddeath()))
        await asyncio.gather(*pending)
        self._born = True
        self._devices_checked = time.monotonic()
        log_event(log, "sparkplug_birth", bdseq=edge.bdseq, devices=len(edge.catalog.devices))

    async def _device_birth(self, name: str) -> None:
        device = self._edge.catalog.devices[name]
        await self._send(self._edge.topics.dbirth(name), payloads.dbirth(device))

    async def _sync_devices(self) -> None:
        """DBIRTH for a device that came back or declared new metrics, DDEATH for one that went offline."""
        now = time.monotonic()
        if now - self._devices_checked < DEVICE_POLL_S:
            return
        self._devices_checked = now
        catalog = self._edge.catalog
        decls = self._edge.devices()
        changed = catalog.declare(decls)
        for decl in decls:
            device = catalog.devices[decl.name]
            if decl.alive and (not device.alive or decl.name in changed):
                device.alive = True
                await self._device_birth(decl.name)
            elif not decl.alive and device.alive:
                device.alive = False
                await self._send(self._edge.topics.ddeath(decl.name), payloads.ddeath())
                log_event(log, "sparkplug_ddeath", device=decl.name)

    # -- data --------------------------------------------------------------------------------------

    async def _drain(self, tg: asyncio.TaskGroup) -> None:
        await self._births()
        while not self._closing:
            if self._rebirth:
                await self._births()
            await self._sync_devices()
            await self._deleter.wait_caught_up()
            await self._window.acquire()
            chunk = await self._scheduler.next_chunk(backlog=self._backlog_inflight < self._backlog_limit)
            if chunk is None:
                self._window.release()
                await self._idle()
                continue
            encoded = self._edge.encoder.encode(chunk.records, chunk.historical)
            if encoded.rebirth_node:
                await self._births()
            else:
                for name in sorted(encoded.rebirth_devices):
                    await self._device_birth(name)
            for i, message in enumerate(encoded.messages):
                if i:
                    await self._window.acquire()
                if self._closing:
                    self._window.release()
                    return
                if self._rebirth:  # a rebirth request stops data until the new births are out
                    await self._births()
                if chunk.historical:
                    self._backlog_inflight += 1
                topic = (self._edge.topics.ndata if message.device is None
                         else self._edge.topics.ddata(message.device))
                done = self._send(topic, message.payload)
                tg.create_task(self._complete(done, message, chunk.historical))

    async def _complete(self, done: Coroutine[Any, Any, None], message: DataMessage, historical: bool) -> None:
        try:
            await done
        finally:
            self._window.release()
            if historical:
                self._backlog_inflight -= 1
                self._wake.set()
        self._counters.acked += 1
        if historical:
            self._counters.historical_batches += 1
        seqs = tuple(message.seqs)
        self._deleter.add(seqs)
        for listener in self._ack_listeners:
            listener(seqs)

    async def _idle(self) -> None:
        if self._scheduler.pending == 0:
            self._scheduler.idle_sweep()
        waiter = asyncio.ensure_future(self._scheduler.wait_for_records(min(IDLE_POLL_S, DEVICE_POLL_S)))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            woken.cancel()
        self._wake.clear()

    # -- downlink ----------------------------------------------------------------------------------

    async def _receive(self, tg: asyncio.TaskGroup) -> None:
        edge, topics = self._edge, self._edge.topics
        state_topic = topics.state(edge.host.host_id) if edge.host is not None else None
        async for message in self._client.messages:
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            if topic == topics.ncmd:
                self._counters.commands += 1
                if wants_rebirth(payload):
                    log_event(log, "sparkplug_rebirth_requested")
                    self._rebirth = True
                    self._wake.set()
            elif (device := topics.dcmd_device(topic)) is not None:
                self._counters.commands += 1
                for request in write_requests(edge.catalog, device, payload):
                    tg.create_task(execute_write(edge.commands, request))
            elif topic == state_topic and edge.host is not None:
                state = edge.host.offer(payload)
                if state is None:
                    continue
                log_event(log, "sparkplug_host_state", host=edge.host.host_id, online=state.online)
                if not state.online and self._born:
                    await self._host_gone()

    async def _host_gone(self) -> None:
        self._closing = True  # no more data from the drain, which may still be between two sends
        log_event(log, "sparkplug_host_offline", host=self._edge.host.host_id if self._edge.host else None)
        # The uplink ends the session with NDEATH (SparkplugEdge.goodbye), then reconnects.
        raise HostOffline(f"primary host {self._edge.host.host_id if self._edge.host else ''} went offline")
