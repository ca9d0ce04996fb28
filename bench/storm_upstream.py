"""The upstream side of the reconnect-storm bench: a durable subscriber that checks every record arrived.

MQTT 3.1.1, clean session false, QoS 1 on ``edgepost/+/telemetry``: its session outlives the broker's
restart (mosquitto persistence, NATS JetStream), so what the gateways publish while it reconnects is
queued for it. It keeps the set of ``(gw, seq)`` it saw and counts duplicates (delivery is
at-least-once; ``(gw, seq)`` is the dedup key, agent/uplink/TOPICS.md).
"""

from __future__ import annotations

import threading
import time
import uuid
import zlib

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

TOPIC = "edgepost/+/telemetry"


class Upstream:
    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self._lock = threading.Lock()
        self.seen: dict[str, set[int]] = {}
        self.received = 0
        self.undecodable = 0
        self._subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"upstream-{uuid.uuid4().hex[:8]}",
                                   protocol=paho.MQTTv311, clean_session=False)
        self._client.max_inflight_messages_set(1000)
        self._client.reconnect_delay_set(0.1, 1.0)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        deadline = time.monotonic() + timeout
        while True:  # a fresh NATS cluster refuses MQTT sessions until JetStream has a leader
            try:
                self._client.connect("127.0.0.1", port, keepalive=10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError("upstream subscriber did not subscribe")

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: object,
                    props: object = None) -> None:
        client.subscribe(TOPIC, qos=1)
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        payload = bytes(msg.payload)
        try:
            if payload[:1] == b"x":  # a zlib backlog batch (MQTT 3.1.1 has no content type)
                payload = zlib.decompress(payload)
            batch = orjson.loads(payload)
            gw, seqs = batch["gw"], [r["seq"] for r in batch["records"]]
        except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError):
            with self._lock:
                self.undecodable += 1
            return
        with self._lock:
            self.received += len(seqs)
            self.seen.setdefault(gw, set()).update(seqs)

    def missing(self, gateways: list[str], per_gateway: int) -> int:
        """Records seq 1..per_gateway of each gateway not seen (yet)."""
        with self._lock:
            return sum(per_gateway - len(self.seen.get(gw, set()) & set(range(1, per_gateway + 1)))
                       for gw in gateways)

    def duplicates(self) -> int:
        with self._lock:
            return self.received - sum(len(s) for s in self.seen.values())

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
