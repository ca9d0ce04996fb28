"""A broker that refuses the telemetry PUBLISH (ACL): the records stay in the outbox, nothing is lost.

mosquitto 2.0.11 answers a denied QoS 1 publish from this client by dropping the connection; a broker
that answers with a PUBACK reason code >= 0x80 is covered by tests/unit/uplink/test_mqtt_client.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import UplinkConfig
from tests.fixtures.mosquitto import Mosquitto
from tests.integration.uplink.support import running_uplink, wait_until

pytestmark = pytest.mark.network


async def test_refused_publish_keeps_records(tmp_path: Path) -> None:
    acl = "topic deny edgepost/gw1/telemetry\ntopic readwrite #"
    with Mosquitto(tmp_path, acl=acl) as broker, broker.collector("edgepost/#") as sub:
        outbox = await Outbox.open(tmp_path / "state", OutboxConfig(durability=Durability.PROCESS_SAFE), "gw1")
        try:
            await outbox.accept([Reading("m1", "v", i, time.time()) for i in range(10)])
            config = UplinkConfig(port=broker.port, protocol="5", reconnect_min_s=0.05, reconnect_max_s=0.2)
            async with running_uplink(config, outbox) as (up, _):
                await wait_until(lambda: up.counters.reconnects >= 2)
                assert up.counters.last_error
                assert up.counters.records_acked == 0
            assert (await outbox.stats()).records == 10
            assert sub.snapshot("/telemetry") == []
            assert sub.snapshot("/state")  # the rest of the session worked
        finally:
            await outbox.close()
