"""The Sparkplug edge node's long-lived state: identity, bdSeq, catalog, primary host.

One ``SparkplugEdge`` per uplink; each MQTT connection gets a ``SparkplugSession`` (session.py).
bdSeq starts at 0 and moves on with every CONNECT (each ``will()`` call), wrapping after 255; the
NBIRTH of a session carries the bdSeq of the Will registered in that session's CONNECT.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from aiomqtt import Will

from agent.errors import UplinkError
from agent.logs import log_event
from agent.uplink.config import SparkplugConfig
from agent.uplink.mqtt_client import EdgeMqttClient
from agent.uplink.sparkplug import payloads
from agent.uplink.sparkplug.catalog import Catalog, DeviceDecl
from agent.uplink.sparkplug.commands import CommandHandler
from agent.uplink.sparkplug.encoder import SparkplugEncoder
from agent.uplink.sparkplug.host_state import PrimaryHost
from agent.uplink.sparkplug.topics import SparkplugTopics

log = logging.getLogger(__name__)

DevicesProvider = Callable[[], list[DeviceDecl]]
BDSEQ_MODULO = 256


class SparkplugEdge:
    def __init__(
        self,
        config: SparkplugConfig,
        gateway_id: str,
        max_payload_bytes: int,
        devices: DevicesProvider | None = None,
        commands: CommandHandler | None = None,
    ) -> None:
        self.config = config
        self.topics = SparkplugTopics(config.group_id, config.edge_node_id or gateway_id)
        self.catalog = Catalog()
        self.encoder = SparkplugEncoder(self.catalog, gateway_id, max_payload_bytes)
        self.host = PrimaryHost(config.primary_host_id) if config.primary_host_id else None
        self.devices = devices or (lambda: [])
        self.commands = commands
        self.data_qos = config.qos
        self._next_bdseq = 0
        self.bdseq = 0  # bdSeq of the latest CONNECT (its Will, and that session's NBIRTH)

    def will(self) -> Will:
        """The NDEATH Will of the next CONNECT (QoS 1, not retained), with the next bdSeq."""
        self.bdseq = self._next_bdseq
        self._next_bdseq = (self._next_bdseq + 1) % BDSEQ_MODULO
        return Will(self.topics.ndeath, payloads.ndeath(self.bdseq).SerializeToString(), qos=1, retain=False)

    async def goodbye(self, client: EdgeMqttClient, mqtt5: bool, timeout_s: float, reason: str) -> None:
        """End a session so the host learns the node is gone, however the session ended.

        MQTT 5: DISCONNECT with reason 0x04, the broker publishes the NDEATH Will. MQTT 3.1.1: NDEATH
        published, then DISCONNECT (which makes the broker drop the Will). On a connection already lost
        both fail quietly and the broker publishes the Will itself.
        """
        try:
            if mqtt5:
                await client.disconnect_with_will()
                return
            with contextlib.suppress(UplinkError):
                await client.publish_acked(
                    self.topics.ndeath, payloads.ndeath(self.bdseq).SerializeToString(), timeout=timeout_s
                )
        finally:
            await client.__aexit__(None, None, None)
            log_event(log, "sparkplug_ndeath", bdseq=self.bdseq, reason=reason)

    def status(self) -> dict[str, str | int | bool | None]:
        return {
            "namespace": "sparkplug",
            "edge_node": f"{self.topics.group_id}/{self.topics.edge_node_id}",
            "bdseq": self.bdseq,
            "qos": self.data_qos,
            "primary_host": self.host.host_id if self.host else None,
            "primary_host_online": self.host.online if self.host else None,
        }
