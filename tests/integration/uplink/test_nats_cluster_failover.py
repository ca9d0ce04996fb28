"""A real 3-node NATS cluster (JetStream + MQTT on each node): kill -9 the node the agent is connected
to; the agent fails over to another node and a durable QoS 1 subscriber on a third node receives every
seq, duplicates identical. The failover pause is printed (-s), not asserted."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import BrokerAddress, UplinkConfig
from tests.fixtures.nats_cluster import NATS_SERVER, DurableSubscriber, NatsCluster
from tests.integration.uplink.support import running_uplink, upstream_records, wait_until

pytestmark = [
    pytest.mark.network,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which(NATS_SERVER) is None and not Path(NATS_SERVER).exists(),
                       reason="nats-server not installed (make apt-deps)"),
]
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)


async def test_kill9_connected_node_agent_fails_over_nothing_lost(tmp_path: Path) -> None:
    with NatsCluster(tmp_path) as cluster:
        n1, n2, n3 = cluster.nodes
        sub = await asyncio.to_thread(DurableSubscriber, n3.mqtt_port, "edgepost/#")
        outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
        acks: list[float] = []
        try:
            config = UplinkConfig(
                port=n1.mqtt_port, protocol="3.1.1",
                brokers=[BrokerAddress(host="127.0.0.1", port=n.mqtt_port) for n in (n2, n3)],
                puback_timeout_s=5.0, reconnect_min_s=0.2, reconnect_max_s=2.0, reconnect_fleet_size=1,
                return_to_first_s=300.0, batch_records=50, inflight=10,
            )
            async with running_uplink(config, outbox) as (up, _):
                up.ack_listeners.append(lambda seqs: acks.append(time.monotonic()))
                for i in range(20):
                    await outbox.accept([Reading("m1", "v", i * 10 + j, time.time()) for j in range(10)])
                    await asyncio.sleep(0.02)
                await wait_until(lambda: up.counters.records_acked == 200, 60)
                killed_at = time.monotonic()
                n1.kill9()
                for i in range(20, 60):  # records keep coming during the failover
                    await outbox.accept([Reading("m1", "v", i * 10 + j, time.time()) for j in range(10)])
                    await asyncio.sleep(0.05)
                await wait_until(lambda: up.counters.records_acked >= 600, 90)
                broker = up.status()["broker"]
            await asyncio.to_thread(
                sub.wait_for, lambda m: {r.seq for r in upstream_records(m)} >= set(range(1, 601)), 90)
            records = upstream_records(sub.snapshot())
        finally:
            await outbox.close()
            sub.close()
    assert broker in (f"127.0.0.1:{n2.mqtt_port}", f"127.0.0.1:{n3.mqtt_port}")
    assert {r.seq for r in records} == set(range(1, 601))
    first: dict[int, dict[str, object]] = {}
    for r in records:
        assert first.setdefault(r.seq, r.item) == r.item, f"duplicate seq {r.seq} differs"
    after = [t for t in acks if t > killed_at]
    pause = after[0] - killed_at if after else float("nan")
    print(f"\nNATS failover: first PUBACK {pause:.2f} s after kill -9 of the connected node; "
          f"{len(records) - 600} duplicates of {len(records)} deliveries")
