"""Broker failover on real mosquitto brokers: connect failure and a PUBACK timeout on a live-looking
connection move the uplink to the next broker, which gets every un-acked record again; it returns to
the first broker once that works again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import BrokerAddress, UplinkConfig
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.tcp_proxy import TcpProxy
from tests.integration.uplink.support import running_uplink, upstream_records, wait_until

pytestmark = pytest.mark.network
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)


def failover_config(first: int, second: int) -> UplinkConfig:
    return UplinkConfig(
        port=first, brokers=[BrokerAddress(host="127.0.0.1", port=second)], puback_timeout_s=1.0,
        return_to_first_s=1.0, reconnect_min_s=0.05, reconnect_max_s=2.0, reconnect_fleet_size=1,
        batch_records=20, inflight=4,
    )


async def test_puback_timeout_moves_to_next_broker_and_back(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    with Mosquitto(tmp_path / "a") as a, Mosquitto(tmp_path / "b") as b, TcpProxy(a.port) as proxy, \
            a.collector("edgepost/#") as sub_a, b.collector("edgepost/#") as sub_b:
        try:
            async with running_uplink(failover_config(proxy.port, b.port), outbox) as (up, _):
                await outbox.accept([Reading("m1", "v", i, time.time()) for i in range(100)])
                await wait_until(lambda: up.counters.records_acked == 100)
                assert up.status()["broker"] == f"127.0.0.1:{proxy.port}"
                # The first broker keeps the connection open but stops acknowledging.
                proxy.hold_replies()
                await outbox.accept([Reading("m1", "v", 100 + i, time.time()) for i in range(200)])
                await wait_until(lambda: up.status()["broker"] == f"127.0.0.1:{b.port}", 30)
                await wait_until(lambda: up.counters.records_acked >= 300, 30)
                # The first broker answers again: the uplink goes back to it.
                proxy.release_replies()
                proxy.cut()  # the stuck connection, as a real client-side close would
                await wait_until(lambda: up.status()["broker"] == f"127.0.0.1:{proxy.port}"
                                 and up.counters.connected, 30)
                await outbox.accept([Reading("m1", "v", 300 + i, time.time()) for i in range(50)])
                await wait_until(lambda: up.counters.records_acked >= 350, 30)
                await wait_until(lambda: {r.seq for r in upstream_records(sub_a.snapshot() + sub_b.snapshot())}
                                 >= set(range(1, 351)), 30)
            on_b = {r.seq for r in upstream_records(sub_b.snapshot())}
            on_a_late = {r.seq for r in upstream_records(sub_a.snapshot()) if r.seq > 300}
        finally:
            await outbox.close()
    assert on_b and on_b <= set(range(101, 301))  # the records held on the stuck broker went to B
    assert on_a_late == set(range(301, 351))  # and after the return, new records go to A again
    assert (await Outbox.open(tmp_path / "state", OUTBOX, "gw1")).last_seq == 350


async def test_connect_failure_moves_to_next_broker(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    with Mosquitto(tmp_path / "a") as a, Mosquitto(tmp_path / "b") as b, b.collector("edgepost/#") as sub_b:
        a.stop()  # the first broker is down from the start
        try:
            await outbox.accept([Reading("m1", "v", i, time.time()) for i in range(30)])
            async with running_uplink(failover_config(a.port, b.port), outbox) as (up, _):
                await wait_until(lambda: up.counters.records_acked == 30, 30)
                assert up.status()["broker"] == f"127.0.0.1:{b.port}"
                await wait_until(lambda: len(upstream_records(sub_b.snapshot())) >= 30)
        finally:
            await outbox.close()
    assert sorted({r.seq for r in upstream_records(sub_b.snapshot())}) == list(range(1, 31))
