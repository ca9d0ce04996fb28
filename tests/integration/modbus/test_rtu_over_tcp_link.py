"""An RTU-over-TCP serial server that goes away and comes back, under our own RTU master.

The bus's link is a pyserial ``socket://`` connection under ``RtuTransport``: the server closing it
(a reboot of the serial server) must be seen as a lost link by the bus's ``LinkKeeper``, requests
must then fail at once with no value made up, and the keeper must reconnect when the server
listens again on the same port.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.records import Quality
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedDevice, SimulatedTcpServer, run_in_thread
from tests.integration.modbus.helpers import CollectingSink, running_driver

pytestmark = pytest.mark.network

REGISTRY = ProfileRegistry.load()


def sensor(ph: float) -> SimulatedDevice:
    return SimulatedDevice(1, REGISTRY.get("yosemitech/y532"), {"ph": ConstantSpec(value=ph)})


def config(port: int) -> dict[str, object]:
    return {
        "offline_after": 2,
        "backoff_max_s": 1.0,
        "buses": [
            {"transport": "rtu-over-tcp", "name": "gw", "host": "127.0.0.1", "port": port, "timeout_s": 0.3,
             "retries": 0, "reopen_min_s": 0.2, "reopen_max_s": 1.0}
        ],
        "devices": [
            # the profile polls ph every 60 s and period_s is only a default for points without one (profiles)
            {"name": "ph", "bus": "gw", "unit_id": 1, "profile": "yosemitech/y532", "points": {"ph": {"period": 0.3}}}
        ],
    }


def bus_states(sink: CollectingSink) -> list[str]:
    return [str(e.data["state"]) for e in sink.events("gw", kind="bus_state")]


def good_ph(sink: CollectingSink, since: int = 0) -> list[float]:
    return [
        float(r.value)  # type: ignore[arg-type]
        for r in sink.records[since:]
        if getattr(r, "point", None) == "ph" and r.quality is Quality.GOOD  # type: ignore[union-attr]
    ]


async def test_a_serial_server_that_closes_the_connection_is_lost_then_reconnected(tmp_path: Path) -> None:
    first = SimulatedTcpServer("127.0.0.1", 0, [sensor(7.25)], framing="rtu")
    with run_in_thread(first) as server:
        port = first.port
        async with running_driver(config(port), tmp_path) as (driver, sink):
            await sink.wait_for(lambda: len(good_ph(sink)) >= 2)
            assert bus_states(sink) == ["open"]

            server.stop()  # the serial server reboots: it closes our connection and stops listening
            await sink.wait_for(lambda: "lost" in bus_states(sink))
            assert bus_states(sink)[:2] == ["open", "lost"]
            await sink.wait_for(lambda: [e.data["state"] for e in sink.events("ph")][-1:] == ["offline"])
            status = driver.status()["buses"]["gw"]  # type: ignore[index]
            assert status["state"] in ("lost", "open failed")  # type: ignore[index]
            lost_at = len(sink.records)

            with run_in_thread(SimulatedTcpServer("127.0.0.1", port, [sensor(6.5)], framing="rtu")):
                await sink.wait_for(lambda: len(good_ph(sink, lost_at)) >= 2)
                assert bus_states(sink)[-1] == "open"
                assert driver.status()["buses"]["gw"]["state"] == "open"  # type: ignore[index]
    # nothing but the values each server put on the wire: no reading made up while the link was down
    assert set(good_ph(sink)[: len(good_ph(sink)) - len(good_ph(sink, lost_at))]) == {7.25}
    assert set(good_ph(sink, lost_at)) == {6.5}
