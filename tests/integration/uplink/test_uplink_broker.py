"""Uplink against a real mosquitto: plain 3.1.1/5, TLS with client certs, wrong CA, state/birth."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.errors import TlsError
from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Reading
from agent.uplink.config import TlsConfig, UplinkConfig
from tests.fixtures.mosquitto import Mosquitto
from tests.integration.uplink.support import running_uplink, upstream_records, wait_until

pytestmark = pytest.mark.network
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)


def retained(port: int, topic: str, timeout: float = 5.0) -> bytes | None:
    """What a fresh subscriber gets as the retained message on ``topic``."""
    got: list[bytes] = []
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append(bytes(m.payload))
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    deadline = time.monotonic() + timeout
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    return got[0] if got else None


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_plain_delivery_state_and_birth(mosquitto: Mosquitto, tmp_path: Path, protocol: str) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    try:
        with mosquitto.collector("edgepost/#") as sub:
            await outbox.accept([Reading("m1", "v", i, time.time(), unit="V") for i in range(20)])
            await outbox.accept([Event("m1", "door", priority=Priority.ALARM, data={"open": True})])
            config = UplinkConfig(port=mosquitto.port, protocol=protocol)  # type: ignore[arg-type]
            async with running_uplink(config, outbox, birth=lambda: {"devices": [{"name": "m1"}]}) as (up, _):
                await wait_until(lambda: up.counters.records_acked == 21)
                await wait_until(lambda: len(upstream_records(sub.snapshot())) >= 21)
            # PUBACKed by the broker is not yet delivered to the collector: wait for the last state.
            await wait_until(lambda: [m.payload for m in sub.snapshot("/state")][-1:] == [b"offline"])
            state = [m.payload for m in sub.snapshot("/state")]
            birth = sub.snapshot("/birth")
            records = upstream_records(sub.snapshot())
        assert state[0] == b"online" and state[-1] == b"offline"
        assert b'"devices":[{"name":"m1"}]' in birth[0].payload
        assert sorted(r.seq for r in records) == list(range(1, 22))
        assert records[0].item["ev"] == "door"  # the alarm lane went first
        assert {r.item.get("u") for r in records if "pt" in r.item} == {"V"}
        assert retained(mosquitto.port, "edgepost/gw1/state") == b"offline"
        assert (await outbox.stats()).records == 0
        if protocol == "5":
            tel = sub.snapshot("/telemetry")[0]
            assert tel.content_type == "application/json" and ("enc", "identity") in tel.user_properties
    finally:
        await outbox.close()


async def test_tls_with_client_certificate(mosquitto_tls: Mosquitto, tmp_path: Path) -> None:
    certs = mosquitto_tls.certs
    assert certs is not None and mosquitto_tls.tls_port is not None
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    try:
        with mosquitto_tls.collector("edgepost/#") as sub:
            await outbox.accept([Reading("m1", "v", i, time.time()) for i in range(10)])
            tls = TlsConfig(ca_file=certs.ca, cert_file=certs.client_cert, key_file=certs.client_key)
            config = UplinkConfig(port=mosquitto_tls.tls_port, tls=tls)
            async with running_uplink(config, outbox) as (up, _):
                await wait_until(lambda: up.counters.records_acked == 10)
                assert up.status()["tls"] is True
            await asyncio.to_thread(sub.wait_for, lambda m: len(upstream_records(m)) >= 10)
    finally:
        await outbox.close()


async def test_tls_wrong_ca_is_tls_error_and_never_plaintext(mosquitto_tls: Mosquitto, tmp_path: Path) -> None:
    certs = mosquitto_tls.certs
    assert certs is not None and mosquitto_tls.tls_port is not None
    await asyncio.sleep(0.5)  # let mosquitto flush the log lines of the fixture's readiness probes
    log_before = mosquitto_tls.log.read_text()
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    try:
        await outbox.accept([Reading("m1", "v", 1, time.time())])
        tls = TlsConfig(ca_file=certs.wrong_ca, cert_file=certs.client_cert, key_file=certs.client_key)
        config = UplinkConfig(port=mosquitto_tls.tls_port, tls=tls, reconnect_min_s=0.05)
        async with running_uplink(config, outbox) as (up, task):
            with pytest.raises(TlsError, match="CERTIFICATE_VERIFY_FAILED"):
                await asyncio.wait_for(task, 15)
            assert up.counters.connects == 0 and up.counters.reconnects == 0
        assert (await outbox.stats()).records == 1  # nothing was sent, nothing deleted
    finally:
        await outbox.close()
    new_log = ""
    for _ in range(100):  # mosquitto writes its log lazily
        new_log = mosquitto_tls.log.read_text()[len(log_before):]
        if "unknown ca" in new_log:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    new_log = mosquitto_tls.log.read_text()[len(log_before):]
    # One TLS attempt refused by the client's CA check; no MQTT session of any kind, and no plaintext
    # CONNECT against the TLS port (that logs a TLS record error, not an alert).
    assert new_log.count("unknown ca") == 1
    assert "New client connected" not in new_log
    for plaintext_symptom in ("wrong version number", "http request", "packet length", "record layer"):
        assert plaintext_symptom not in new_log


async def test_cancelled_uplink_still_says_offline(mosquitto: Mosquitto, tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    try:
        async with running_uplink(UplinkConfig(port=mosquitto.port), outbox) as (up, task):
            await wait_until(lambda: up.counters.connected)
            assert retained(mosquitto.port, "edgepost/gw1/state") == b"online"
            task.cancel()  # what a supervisor does on shutdown
            with pytest.raises(asyncio.CancelledError):
                await task
        assert retained(mosquitto.port, "edgepost/gw1/state") == b"offline"
    finally:
        await outbox.close()


async def test_stop_while_broker_unreachable_returns_promptly(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    try:
        broker = Mosquitto(tmp_path)  # never started: connection refused, the uplink backs off
        config = UplinkConfig(port=broker.port, reconnect_min_s=0.05, reconnect_max_s=60, reconnect_fleet_size=1)
        async with running_uplink(config, outbox) as (up, task):
            await wait_until(lambda: up.counters.reconnects >= 3)
            await up.stop()
            await asyncio.wait_for(task, 5)
            assert up.counters.connects == 0 and "failed" in (up.counters.last_error or "")
    finally:
        await outbox.close()


async def test_username_password(tmp_path: Path) -> None:
    with Mosquitto(tmp_path, users={"pole17": "s3cret"}) as broker:
        outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
        try:
            await outbox.accept([Reading("m1", "v", 1, time.time())])
            good = UplinkConfig(port=broker.port, username="pole17", password="s3cret")  # type: ignore[arg-type]
            async with running_uplink(good, outbox) as (up, _):
                await wait_until(lambda: up.counters.records_acked == 1)
            await outbox.accept([Reading("m1", "v", 2, time.time())])
            bad = UplinkConfig(port=broker.port, username="pole17", password="wrong",  # type: ignore[arg-type]
                               reconnect_min_s=0.05, reconnect_max_s=0.1)
            async with running_uplink(bad, outbox) as (up, _):
                await wait_until(lambda: up.counters.reconnects >= 2)
                assert up.counters.connects == 0 and "connect" in (up.counters.last_error or "")
            assert (await outbox.stats()).records == 1
        finally:
            await outbox.close()
