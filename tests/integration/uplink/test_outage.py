"""Stop the broker mid-stream and start it again: zero records lost, per-device order kept."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import UplinkConfig
from tests.fixtures.mosquitto import Mosquitto
from tests.integration.uplink.support import (
    first_occurrences,
    order_violations,
    running_uplink,
    upstream_records,
    wait_until,
)

pytestmark = [pytest.mark.network, pytest.mark.slow]
DEVICES = [f"meter{i}" for i in range(5)]


async def produce(outbox: Outbox, stop: asyncio.Event, accepted: list[int]) -> None:
    n = 0
    while not stop.is_set():
        batch = [Reading(DEVICES[(n + i) % len(DEVICES)], "energy", n + i, time.time()) for i in range(20)]
        accepted.extend(await outbox.accept(batch))
        n += len(batch)
        await asyncio.sleep(0.01)


async def test_broker_restart_loses_nothing(tmp_path: Path) -> None:
    # Persistence on, so the collector's own session survives the restart: whatever the uplink
    # publishes while the collector is still reconnecting is queued for it, not dropped.
    broker = Mosquitto(tmp_path, persistence=True)
    broker.start()
    outbox_config = OutboxConfig(durability=Durability.PROCESS_SAFE, live_window_s=1.0)
    outbox = await Outbox.open(tmp_path / "state", outbox_config, "gw1")
    try:
        with broker.collector("edgepost/gw1/+", persistent=True) as sub:
            config = UplinkConfig(port=broker.port, batch_records=50, inflight=8,
                                  reconnect_min_s=0.1, reconnect_max_s=0.5, keepalive_s=5)
            accepted: list[int] = []
            stop = asyncio.Event()
            async with running_uplink(config, outbox, outbox_config) as (up, _):
                producer = asyncio.create_task(produce(outbox, stop, accepted))
                await wait_until(lambda: up.counters.records_acked > 300)
                await asyncio.to_thread(broker.stop)
                await wait_until(lambda: not up.counters.connected)
                await asyncio.sleep(1.5)  # records pile up in the outbox meanwhile
                backlog = (await outbox.stats()).records
                await asyncio.to_thread(broker.start)
                await asyncio.sleep(1.0)
                stop.set()
                await producer
                await wait_until(lambda: up.counters.records_acked >= len(accepted), timeout=30)
                assert up.counters.connects >= 2 and up.counters.reconnects >= 1
            assert backlog > 0
            await asyncio.to_thread(
                sub.wait_for, lambda m: {r.seq for r in upstream_records(m)} >= set(accepted), 20
            )
            records = upstream_records(sub.snapshot())
        received = {r.seq for r in records}
        assert set(accepted) - received == set()
        assert order_violations(records) == []
        assert len(first_occurrences(records)) == len(set(accepted))
        assert any(r.hist for r in records)  # the outage backlog went up flagged historical
        assert (await outbox.stats()).records == 0
    finally:
        await outbox.close()
        broker.stop()
