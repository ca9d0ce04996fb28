"""Every way a Sparkplug session ends tells the host: exactly one NDEATH, and an MQTT 5 DISCONNECT
always carries reason 0x04 (tck-id-payloads-ndeath-will-message-publisher-disconnect-mqtt311/-mqtt50,
tck-id-message-flow-edge-node-birth-publish-phid-offline, tck-id-operational-behavior-edge-node-
intentional-disconnect-ndeath). A 3.1.1 DISCONNECT, or a 5 DISCONNECT with reason 0, makes the broker
drop the Will: a node that sends one without publishing NDEATH first stays "online" for its host.

What the node sent is read from mosquitto's debug log (wire_log.py); whether the broker published the
Will is what a subscriber receives: on MQTT 5 an NDEATH the node did not publish itself can only be
the Will, which the broker sends after a DISCONNECT only for reason 0x04.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from tests.fixtures.tcp_proxy import TcpProxy
from tests.integration.uplink.sparkplug_support import GROUP, NODE, decode_all, running_sparkplug
from tests.integration.uplink.support import wait_until
from tests.integration.uplink.test_sparkplug_mqtt import LEVEL, bdseq, publish, spb_config
from tests.integration.uplink.wire_log import WireMosquitto, packets, verb

pytestmark = pytest.mark.network
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)
CLIENT = f"edgepost-{NODE}"
HOST = "scada"
NDEATH = f"spBv1.0/{GROUP}/NDEATH/{NODE}"


def host_state(port: int, online: bool, ts: int) -> None:
    publish(port, f"spBv1.0/STATE/{HOST}", orjson.dumps({"online": online, "timestamp": ts}), retain=True)


def node_ndeaths(log: Path) -> list[str]:
    """What the node itself sent around its NDEATHs: 'NDEATH' for a PUBLISH of one, 'DISCONNECT'."""
    return [("NDEATH" if verb(p.topic) == "NDEATH" else p.kind) for p in packets(log, CLIENT)
            if p.kind == "DISCONNECT" or (p.kind == "PUBLISH" and verb(p.topic) == "NDEATH")]


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_primary_host_offline_ends_the_session_with_one_ndeath(tmp_path: Path, protocol: str) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with WireMosquitto(tmp_path) as broker, broker.collector("spBv1.0/#") as sub:
            host_state(broker.port, True, 1000)
            config = spb_config(broker.port, primary_host_id=HOST).model_copy(update={"protocol": protocol})
            async with running_sparkplug(config, outbox, lambda: [LEVEL]) as up:
                await wait_until(lambda: any(m.verb == "DBIRTH" for m in decode_all(sub.snapshot())))
                host_state(broker.port, False, 2000)
                await wait_until(lambda: up.counters.connects == 2)  # back, waiting for the host again
                await wait_until(lambda: any(m.verb == "NDEATH" for m in decode_all(sub.snapshot())))
                await asyncio.sleep(1.0)  # a second NDEATH (explicit plus Will) would arrive by now
                deaths = [m for m in decode_all(sub.snapshot()) if m.verb == "NDEATH"]
                sent = node_ndeaths(broker.log)
    finally:
        await outbox.close()
    assert len(deaths) == 1 and bdseq(deaths[0]) == 0
    if protocol == "3.1.1":
        assert sent == ["NDEATH", "DISCONNECT"]  # published, then DISCONNECT (which drops the Will)
    else:
        assert sent == ["DISCONNECT"]  # reason 0x04: the one NDEATH above is the broker's Will


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_a_broker_that_stops_acknowledging_still_gets_the_ndeath(tmp_path: Path, protocol: str) -> None:
    """Durable mode: no PUBACK within puback_timeout_s ends the session (the node moves on); the host
    must still see the node die, while the node's packets still reach the broker."""
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, NODE)
    try:
        with WireMosquitto(tmp_path) as broker, broker.collector("spBv1.0/#") as sub, \
                TcpProxy(broker.port) as proxy:
            config = spb_config(proxy.port, qos=1).model_copy(update={"protocol": protocol, "puback_timeout_s": 1.0})
            async with running_sparkplug(config, outbox, lambda: [LEVEL]) as up:
                await outbox.accept([Reading("level1", "distance", 1, time.time())])
                await wait_until(lambda: up.counters.records_acked == 1)
                proxy.hold_replies()  # the socket stays up; the broker's PUBACKs never arrive
                await outbox.accept([Reading("level1", "distance", 2, time.time())])
                await wait_until(lambda: up.counters.reconnects >= 1)
                await wait_until(lambda: any(m.verb == "NDEATH" for m in decode_all(sub.snapshot())), 15)
                proxy.release_replies()
                await wait_until(lambda: up.counters.records_acked == 2, 30)
            deaths = [m for m in decode_all(sub.snapshot()) if m.verb == "NDEATH"]
    finally:
        await outbox.close()
    # The first session's death (bdSeq 0), not only a later session's Will (bdSeq 1 and up).
    assert deaths and bdseq(deaths[0]) == 0
