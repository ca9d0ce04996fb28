"""A paho subscriber (MQTT 5) on its own thread that keeps every message with its arrival time.

It is the rig's view of "what the cloud received"; it also publishes downlink commands.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    user_properties: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    arrived: float = 0.0  # wall clock (time.time) when the collector got it


class Collector:
    """Subscribes ``topic`` at QoS 1; ``persistent`` keeps its session across broker restarts."""

    def __init__(self, port: int, topic: str, persistent: bool = False, host: str = "127.0.0.1") -> None:
        self._topic = topic
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.messages: list[Received] = []
        props = None
        if persistent:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 3600
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5,
        )
        self._client.max_inflight_messages_set(1000)
        # sub-second reconnects (paho's hints say int; it takes float seconds)
        self._client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)  # type: ignore[arg-type]
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.connect(host, port, keepalive=30, clean_start=not persistent, properties=props)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise TimeoutError("collector did not subscribe")

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: object,
                    props: object = None) -> None:
        client.subscribe(self._topic, qos=1)
        self._subscribed.set()

    def _on_disconnect(self, *args: object) -> None:
        self._subscribed.clear()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        arrived = time.time()
        user_props: tuple[tuple[str, str], ...] = ()
        content_type = None
        if msg.properties is not None:
            user_props = tuple(getattr(msg.properties, "UserProperty", ()) or ())
            content_type = getattr(msg.properties, "ContentType", None)
        item = Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, user_props, content_type, arrived)
        with self._lock:
            self.messages.append(item)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._client.publish(topic, payload, qos=qos)

    def snapshot(self, topic_suffix: str | None = None) -> list[Received]:
        with self._lock:
            items = list(self.messages)
        if topic_suffix is not None:
            items = [m for m in items if m.topic.endswith(topic_suffix)]
        return items

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 20.0) -> list[Received]:
        """Poll until ``predicate(messages)`` holds; raises TimeoutError with the count seen."""
        deadline = time.monotonic() + timeout
        while True:
            items = self.snapshot()
            if predicate(items):
                return items
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met; {len(items)} messages received")
            time.sleep(0.05)

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    def wait_subscribed(self, timeout: float = 10.0) -> None:
        if not self._subscribed.wait(timeout):
            raise TimeoutError("collector did not (re)subscribe")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
