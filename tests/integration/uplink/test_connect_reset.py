"""A connection reset while the CONNECT waits for its CONNACK is noticed at once (found by the HIL rig,
rig/scenarios/link-reconnect.yaml): the next attempt follows the reconnect back-off, not the client
timeout. The client timeout here is an hour, so only a noticed reset can get the uplink connected
within the test's deadline; a real mosquitto behind a userspace proxy that resets the first two
connections after reading their CONNECT."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import UplinkConfig
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.tcp_proxy import TcpProxy
from tests.integration.uplink.support import running_uplink, upstream_records, wait_until

pytestmark = pytest.mark.network
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)


async def test_a_reset_before_the_connack_is_retried_after_the_backoff_not_the_timeout(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    with Mosquitto(tmp_path / "broker") as broker, TcpProxy(broker.port) as proxy, \
            broker.collector("edgepost/#") as sub:
        proxy.reset_connects(2)
        config = UplinkConfig(
            port=proxy.port, puback_timeout_s=3600.0, reconnect_min_s=0.5, reconnect_max_s=1.0,
            reconnect_fleet_size=1, reconnect_max_rate=1000.0,  # a spread window of ~1 ms: the back-off alone
        )
        try:
            seqs = await outbox.accept([Reading("m1", "v", float(i), time.time()) for i in range(10)])
            async with running_uplink(config, outbox) as (up, _):
                await wait_until(lambda: up.counters.records_acked == 10, 60)
                errors = up.counters.last_error
                reconnects = up.counters.reconnects
        finally:
            await outbox.close()
        attempts = list(proxy.accepted_at)
    assert proxy.resets_done == 2 and len(attempts) == 3 and reconnects == 2
    assert "connection lost before the CONNACK" in str(errors)
    assert {r.seq for r in upstream_records(sub.snapshot())} >= set(seqs)
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(attempts)]
    print(f"seconds between connect attempts (back-off ceiling 0.5 s then 1 s, client timeout 3600 s): {gaps}")
