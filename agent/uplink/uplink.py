"""The MQTT uplink: connect, announce, drain the outbox, take commands, reconnect with back-off.

One ``Uplink`` per agent. ``run()`` loops until ``stop()``: each session connects (TLS if configured,
never a plaintext fallback), publishes ``state=online`` (retained; the Last Will says ``offline``) and
the birth, subscribes ``cmd/#``, then drains the outbox and hands commands to the dispatcher until the
connection drops (their answers come back through the outbox). Un-acked records stay in the outbox
and are fetched again by the next session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiomqtt
import orjson
from aiomqtt import ProtocolVersion, Will

from agent.errors import ConfigError, OutboxError, UplinkError
from agent.logs import RateLimiter, log_event, log_limited
from agent.outbox.api import OutboxReader
from agent.outbox.config import OutboxConfig
from agent.records import JsonValue
from agent.uplink.backoff import ReconnectSchedule
from agent.uplink.codecs.registry import make_codec
from agent.uplink.config import UplinkConfig, is_loopback
from agent.uplink.counters import UplinkCounters
from agent.uplink.drain import DrainScheduler
from agent.uplink.failover import BrokerRotation, ConnectFailed, ReturnToFirst
from agent.uplink.mqtt_client import EdgeMqttClient, PubackTimeout
from agent.uplink.publisher import AckedDeleter, AckListener, BatchPublisher
from agent.uplink.sparkplug.errors import HostOffline
from agent.uplink.tls import build_ssl_context
from agent.uplink.topics import Topics

if TYPE_CHECKING:  # protobuf and the Sparkplug session are imported only when the namespace is sparkplug
    from agent.uplink.sparkplug.commands import CommandHandler as SparkplugCommandHandler
    from agent.uplink.sparkplug.edge import DevicesProvider, SparkplugEdge

log = logging.getLogger(__name__)

BirthProvider = Callable[[], dict[str, JsonValue]]
# (topic suffix after cmd/, payload): takes the command and returns at once; the answer comes back
# through the outbox, so it survives this session ending before the command does.
CommandHandler = Callable[[str, bytes], None]
STABLE_SESSION_S = 30.0  # a session that lasted this long resets the back-off
STOP_TIMEOUT_S = 5.0
ERROR_NDEATH_WAIT_S = 1.0  # a broken session's NDEATH: on its way before DISCONNECT, its PUBACK not awaited long


class _StopRequested(Exception):
    """Internal: ends the session's task group on ``stop()``."""


class Uplink:
    def __init__(
        self,
        config: UplinkConfig,
        outbox_config: OutboxConfig,
        gateway_id: str,
        outbox: OutboxReader,
        birth_provider: BirthProvider | None = None,
        command_handler: CommandHandler | None = None,
        command_answerer: SparkplugCommandHandler | None = None,
        devices_provider: DevicesProvider | None = None,
    ) -> None:
        self.config = config
        self.gateway_id = gateway_id
        self.topics = Topics(config.topic_prefix, gateway_id)
        self.counters = UplinkCounters()
        self._outbox = outbox
        self._birth_provider = birth_provider
        self._command_handler = command_handler
        self._codec = make_codec(config.codec, gateway_id, config.max_payload_bytes, config.compress_backlog)
        self._sparkplug: SparkplugEdge | None = None
        if config.namespace == "sparkplug":
            from agent.uplink.sparkplug.edge import SparkplugEdge

            self._sparkplug = SparkplugEdge(
                config.sparkplug, gateway_id, config.max_payload_bytes, devices_provider, command_answerer
            )
        self._scheduler = DrainScheduler(
            outbox, config.batch_records, outbox_config.backlog_share, outbox_config.live_window_s
        )
        self._deleter = AckedDeleter(outbox, self._scheduler, self.counters)
        self._reconnect = ReconnectSchedule(
            config.reconnect_window_s, config.reconnect_min_s, config.reconnect_max_s, config.reconnect_jitter
        )
        self._rotation = BrokerRotation(config.broker_list, config.return_to_first_s, config.reconnect_max_s)
        self._limiter = RateLimiter()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._birth_wanted = asyncio.Event()
        # Called with the seqs of every PUBACKed batch (metrics, latency benchmarks); must not block.
        self.ack_listeners: list[AckListener] = []

    # -- public API -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, drain and reconnect until ``stop()``. Raises ``TlsError``/``ConfigError`` (permanent)."""
        if not self.config.enabled:
            log_event(log, "uplink_disabled")
            return
        self._check_transport_policy()
        self._stop.clear()
        while not self._stop.is_set():
            started = time.monotonic()
            connects = self.counters.connects
            delay: float | None = None
            try:
                await self._session()
            except _StopRequested:
                break
            except ReturnToFirst:
                delay = 0.0
            except UplinkError as exc:
                self.counters.reconnects += 1
                self.counters.last_error = str(exc)
                log_limited(self._limiter, log, "uplink_down", "uplink_down", error=str(exc))
                if isinstance(exc, ConnectFailed | PubackTimeout | HostOffline):
                    moved = self._rotation.advance()
                    if moved and len(self._rotation.brokers) > 1:
                        delay = 0.0  # a broker not yet tried this round: dial it now
            if time.monotonic() - started > STABLE_SESSION_S:
                self._reconnect.reset()
            if self._stop.is_set():
                break
            if delay is None:
                # A fleet that lost its broker together comes back at most reconnect_max_rate per second
                # (backoff.py): a session shorter than the spread window counts as a failed attempt.
                lasted = self.counters.connects > connects and time.monotonic() - started >= self._reconnect.window_s
                delay = self._reconnect.after_drop() if lasted else self._reconnect.after_failure()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def stop(self) -> None:
        """Ask ``run()`` to publish ``offline``, disconnect cleanly and return."""
        self._stop.set()
        self._wake.set()

    def request_birth(self) -> None:
        """Publish the birth again (after a config reload or a ``resend_birth`` command)."""
        self._birth_wanted.set()

    def sync_now(self) -> None:
        """Skip the current back-off wait or idle poll."""
        self._wake.set()

    def status(self) -> dict[str, JsonValue]:
        status = self.counters.as_status()
        status["broker"] = str(self._rotation.current)
        status["tls"] = self.config.tls is not None
        status["pending_records"] = self._scheduler.pending
        if self._sparkplug is not None:
            status.update(self._sparkplug.status())
        return status

    # -- sessions ---------------------------------------------------------------------------------

    def _check_transport_policy(self) -> None:
        cfg = self.config
        if cfg.tls is None and not cfg.allow_insecure and not is_loopback(cfg.host):
            raise ConfigError(
                [f"uplink.host: plaintext MQTT to non-loopback host {cfg.host!r} refused "
                 "(configure uplink.tls or set allow_insecure: true)"]
            )

    def _make_client(self) -> EdgeMqttClient:
        cfg = self.config
        broker = self._rotation.current
        v5 = cfg.protocol == "5"
        kwargs: dict[str, Any] = {}
        if not v5:
            kwargs["clean_session"] = True
        client = EdgeMqttClient(
            broker.host,
            broker.port,
            username=cfg.username,
            password=cfg.password.get_secret_value() if cfg.password is not None else None,
            identifier=cfg.client_id or f"edgepost-{self.gateway_id}",
            protocol=ProtocolVersion.V5 if v5 else ProtocolVersion.V311,
            will=self._sparkplug.will() if self._sparkplug else Will(self.topics.state, b"offline", qos=1, retain=True),
            keepalive=cfg.keepalive_s,
            timeout=cfg.puback_timeout_s,  # CONNACK, SUBACK and PUBACK alike: silence moves to the next broker
            max_inflight_messages=cfg.inflight + 16,  # + state and birth
            tls_context=build_ssl_context(cfg.tls) if cfg.tls is not None else None,
            **kwargs,
        )
        client.pending_calls_threshold = cfg.inflight + 32  # a full window is normal, not a warning
        return client

    async def _connect(self, client: EdgeMqttClient) -> None:
        # A CONNACK can take up to the client timeout; stop() must not wait for it.
        connect = asyncio.ensure_future(client.__aenter__())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({connect, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not connect.done():
            connect.cancel()
            raise _StopRequested
        try:
            connect.result()
        except aiomqtt.MqttError as exc:
            if client.tls_failure is not None:
                self.counters.last_error = str(client.tls_failure)
                log_event(log, "uplink_tls_failed", logging.ERROR, error=str(client.tls_failure))
                raise client.tls_failure from None
            raise ConnectFailed(f"connect to {self._rotation.current} failed: {exc}") from None

    async def _session(self) -> None:
        client = self._make_client()
        await self._connect(client)
        self.counters.connects += 1
        self.counters.connected = True
        self._rotation.connected()
        log_event(log, "uplink_connected", broker=str(self._rotation.current))
        self._limiter.reset("uplink_down")
        clean = False
        try:
            try:
                async with asyncio.timeout(self._rotation.return_due_in()):
                    clean = await self._serve(client)
            except TimeoutError:
                clean = True  # leaving on purpose: offline state / NDEATH, as on a stop
                self._rotation.returning()
                log_event(log, "uplink_return_to_first", broker=str(self._rotation.current))
                raise ReturnToFirst("back to the first broker") from None
        except asyncio.CancelledError:
            clean = True  # cancelled by the supervisor: still say offline and leave cleanly
            raise
        finally:
            self.counters.connected = False
            await self._end_session(client, clean)

    async def _serve(self, client: EdgeMqttClient) -> bool:
        """Run one connected session; True when it ended on ``stop()``, UplinkError when it broke."""
        clean = False
        if self._sparkplug is not None:
            return await self._serve_sparkplug(client, self._sparkplug)
        try:
            await client.publish_acked(self.topics.state, b"online", retain=True)
            await self._publish_birth(client)
            await client.subscribe(self.topics.commands, qos=1)
            publisher = BatchPublisher(
                client, self.topics, self._codec, self._scheduler, self._deleter, self.counters,
                self.config.inflight, self.config.protocol == "5", self.config.puback_timeout_s,
                self._wake, self.ack_listeners,
            )
            async with asyncio.TaskGroup() as tg:
                tg.create_task(publisher.run(), name="uplink.drain")
                tg.create_task(self._deleter.run(), name="uplink.delete")
                tg.create_task(self._receive(client), name="uplink.commands")
                tg.create_task(self._birth_loop(client), name="uplink.birth")
                tg.create_task(self._stop_watch(), name="uplink.stop")
        except* _StopRequested:
            clean = True
        except* (aiomqtt.MqttError, UplinkError, OutboxError) as group:
            raise session_error(group) from None
        return clean

    async def _serve_sparkplug(self, client: EdgeMqttClient, edge: SparkplugEdge) -> bool:
        """The Sparkplug namespace's session (sparkplug/session.py) under the same stop and delete tasks."""
        from agent.uplink.sparkplug.session import SparkplugSession

        session = SparkplugSession(
            edge, client, self._scheduler, self._deleter, self.counters, self.config.inflight,
            self.config.puback_timeout_s, self._wake, self.ack_listeners,
        )
        clean = False
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(session.run(), name="uplink.sparkplug")
                tg.create_task(self._deleter.run(), name="uplink.delete")
                tg.create_task(self._stop_watch(), name="uplink.stop")
        except* _StopRequested:
            clean = True
        except* (aiomqtt.MqttError, UplinkError, OutboxError) as group:
            raise session_error(group) from None
        return clean

    async def _end_session(self, client: EdgeMqttClient, clean: bool) -> None:
        with contextlib.suppress(TimeoutError, aiomqtt.MqttError, UplinkError):
            async with asyncio.timeout(STOP_TIMEOUT_S):
                with contextlib.suppress(OutboxError):  # not deleted: stays listed for the next session
                    await self._deleter.flush()
                if self._sparkplug is not None:
                    # Every end of a Sparkplug session tells the host, not only a clean stop: a DISCONNECT
                    # without NDEATH (3.1.1) or without reason 0x04 (5) would drop the Will.
                    await self._sparkplug.goodbye(
                        client, self.config.protocol == "5", STOP_TIMEOUT_S if clean else ERROR_NDEATH_WAIT_S,
                        "stop" if clean else "session ended",
                    )
                else:
                    if clean:
                        await client.publish_acked(self.topics.state, b"offline", retain=True)
                    await client.__aexit__(None, None, None)
        self._scheduler.reset()
        log_event(log, "uplink_disconnected", clean=clean)

    async def _stop_watch(self) -> None:
        await self._stop.wait()
        raise _StopRequested

    async def _birth_loop(self, client: EdgeMqttClient) -> None:
        while True:
            await self._birth_wanted.wait()
            self._birth_wanted.clear()
            await self._publish_birth(client)

    async def _publish_birth(self, client: EdgeMqttClient) -> None:
        body: dict[str, JsonValue] = {"gw": self.gateway_id, "ts": time.time(), "codec": self._codec.name}
        if self._birth_provider is not None:
            body.update(self._birth_provider())
        await client.publish_acked(self.topics.birth, orjson.dumps(body), retain=True)

    async def _receive(self, client: EdgeMqttClient) -> None:
        async for message in client.messages:
            suffix = self.topics.command_suffix(str(message.topic))
            if suffix is None or self._command_handler is None:
                continue
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            self.counters.commands += 1
            self._command_handler(suffix, payload)


def session_error(group: BaseExceptionGroup[BaseException]) -> UplinkError:
    """Why a session ended; a PUBACK timeout or host offline keeps its type (the failover policy needs it)."""
    leaf = first_leaf(group)
    if isinstance(leaf, PubackTimeout | HostOffline):
        return leaf
    return UplinkError(f"session ended: {leaf}")


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real exception inside (possibly nested) task-group errors."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
