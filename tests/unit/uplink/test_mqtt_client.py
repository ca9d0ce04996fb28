"""EdgeMqttClient.publish_acked: success only on a successful PUBACK."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from agent.uplink.mqtt_client import EdgeMqttClient, PublishRejected


@dataclass
class FakeInfo:
    mid: int
    rc: int = 0

    def is_published(self) -> bool:
        return False


def client_answering(code: int) -> EdgeMqttClient:
    client = EdgeMqttClient("127.0.0.1", 1)  # never connects: paho's publish is replaced below
    loop = asyncio.get_running_loop()

    def publish(*args: object) -> FakeInfo:
        reason = ReasonCode(PacketTypes.PUBACK, identifier=code)
        loop.call_soon(client._on_publish, client._client, None, 7, reason, None)
        return FakeInfo(mid=7)

    client._client.publish = publish  # type: ignore[method-assign,assignment]
    return client


async def test_success_reason_code_returns() -> None:
    await client_answering(0x00).publish_acked("t", b"x", timeout=2)


async def test_failure_reason_code_raises_so_records_stay() -> None:
    with pytest.raises(PublishRejected, match="refused"):
        await client_answering(0x87).publish_acked("t", b"x", timeout=2)
