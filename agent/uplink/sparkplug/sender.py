"""Stamps the Sparkplug ``seq`` (0..255, wrapping) and hands the message to the MQTT client at once.

Stamping and ``start_publish`` happen in one synchronous step, so the seq order on the wire is the
order of ``send`` calls whatever runs concurrently on the event loop.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from agent.uplink.counters import UplinkCounters
from agent.uplink.mqtt_client import EdgeMqttClient

SEQ_MODULO = 256


class SeqSender:
    def __init__(self, client: EdgeMqttClient, counters: UplinkCounters, timeout_s: float) -> None:
        self._client = client
        self._counters = counters
        self._timeout = timeout_s
        self._next = 0
        self.sent = 0  # messages stamped in this session

    def reset(self) -> None:
        """The next message (an NBIRTH) carries seq 0."""
        self._next = 0

    def send(self, topic: str, payload: Any, qos: int) -> Coroutine[Any, Any, None]:
        """Stamp, serialise and publish now; the returned coroutine waits for the PUBACK (or write, QoS 0)."""
        payload.seq = self._next
        self._next = (self._next + 1) % SEQ_MODULO
        data = payload.SerializeToString()
        info = self._client.start_publish(topic, data, qos=qos, retain=False)
        self.sent += 1
        self._counters.published += 1
        self._counters.bytes_published += len(data)
        return self._client.wait_published(info, topic, self._timeout)
