"""aiomqtt 2.5.1 client with three things the uplink needs and aiomqtt does not expose.

- A TLS handshake failure surfaces as ``TlsError`` (aiomqtt folds every ``OSError`` from connect,
  ``ssl.SSLError`` included, into a plain ``MqttError`` string).
- A connection closed or reset while the CONNECT waits for its CONNACK fails the connect at once
  (``ConnectionLostBeforeConnack``). aiomqtt ignores a disconnect before the CONNACK (its
  ``_on_disconnect`` returns early) and waits for the full client timeout, so a link that died and
  came back during a reconnect attempt cost ``puback_timeout_s`` instead of the back-off.
- An MQTT 5 PUBACK carrying a failure reason code (e.g. 0x87 not authorised) fails the publish instead
  of counting as delivered: the records must stay in the outbox.

``publish`` at QoS 1 returns only after the PUBACK: paho calls ``on_publish`` for QoS 1 when the
PUBACK arrives, which sets the event ``Client.publish`` awaits (aiomqtt/client.py, ``publish`` and
``_on_publish``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.errors import TlsError, UplinkError


class PublishRejected(UplinkError):
    """The broker answered a PUBLISH with a failure reason code."""


class PubackTimeout(UplinkError):
    """A QoS 1 message got no PUBACK in time although the connection looked alive."""


class ConnectionLostBeforeConnack(aiomqtt.MqttError):
    """The socket closed (reset, EOF) while the CONNECT waited for its CONNACK.

    An ``MqttError`` so that aiomqtt's ``__aenter__`` cleans up as for a timeout; the uplink
    translates it at its boundary (``ConnectFailed``)."""


class EdgeMqttClient(aiomqtt.Client):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tls_failure: TlsError | None = None
        self._rejected: dict[int, str] = {}

    def _client_connect(self) -> None:
        try:
            super()._client_connect()
        except ssl.SSLError as exc:
            # Recorded here (executor thread) and raised by the uplink after aiomqtt's MqttError.
            self.tls_failure = TlsError(f"TLS handshake with the broker failed: {exc}")
            raise

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        # paho reports a lost socket here also before the CONNACK, where aiomqtt drops it: fail the
        # wait for the CONNACK instead. (The lock is held from __aenter__ on: someone awaits it.)
        if self._lock.locked() and not self._connected.done():
            error = ConnectionLostBeforeConnack(f"connection lost before the CONNACK ({reason_code})")

            def fail() -> None:
                if not self._connected.done():
                    self._connected.set_exception(error)

            self._on_loop(fail)
            return
        super()._on_disconnect(client, userdata, flags, reason_code, properties)

    def _on_loop(self, fn: Callable[[], object]) -> None:
        """paho calls back on the event loop (aiomqtt's socket readers), or from the connect thread."""
        try:
            here = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            here = False
        if here:
            fn()
        else:
            self._loop.call_soon_threadsafe(fn)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        if reason_code.is_failure:
            self._rejected[mid] = str(reason_code)
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish_acked(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        properties: Properties | None = None,
        timeout: float | None = None,
        qos: int = 1,
    ) -> None:
        """Publish that returns after a successful PUBACK (QoS 1) or once written to the socket (QoS 0);
        raises ``UplinkError`` otherwise."""
        info = self.start_publish(topic, payload, qos=qos, retain=retain, properties=properties)
        await self.wait_published(info, topic, timeout)

    def start_publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False, properties: Properties | None = None
    ) -> mqtt.MQTTMessageInfo:
        """Hand the message to paho now (synchronous: callers that must keep an order call this in it)."""
        info = self._client.publish(topic, payload, qos, retain, properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise UplinkError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        return info

    async def wait_published(self, info: mqtt.MQTTMessageInfo, topic: str, timeout: float | None = None) -> None:
        """Wait for ``start_publish``'s PUBACK (QoS 1) or socket write (QoS 0)."""
        if not info.is_published():
            confirmation = asyncio.Event()
            with self._pending_call(info.mid, confirmation, self._pending_publishes):
                try:
                    await self._wait_for(confirmation.wait(), timeout=timeout)
                except aiomqtt.MqttError as exc:
                    raise PubackTimeout(f"no PUBACK for {topic}: {exc}") from None
        reason = self._rejected.pop(info.mid, None)
        if reason is not None:
            raise PublishRejected(f"broker refused publish to {topic}: {reason}")

    async def disconnect_with_will(self) -> None:
        """MQTT 5 DISCONNECT with reason 0x04: the broker publishes the Will (Sparkplug NDEATH) for us."""
        reason = ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")
        if self._client.disconnect(reasoncode=reason) == mqtt.MQTT_ERR_SUCCESS:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._wait_for(asyncio.shield(self._disconnected), timeout=None)
        await self.__aexit__(None, None, None)
