"""RTU frames over TCP (a serial server on the pole) and plain Modbus TCP, both against the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.records import Quality
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedDevice, SimulatedTcpServer, run_in_thread
from tests.integration.modbus.helpers import running_driver

pytestmark = pytest.mark.network


@pytest.mark.parametrize(
    ("framing", "transport"),
    [("rtu", "rtu-over-tcp"), ("socket", "tcp"), ("rtu", "serial")],  # serial: a pyserial socket:// URL
)
async def test_polls_through_a_tcp_endpoint(framing: str, transport: str, tmp_path: Path) -> None:
    registry = ProfileRegistry.load()
    devices = [
        SimulatedDevice(1, registry.get("yosemitech/y532"), {"ph": ConstantSpec(value=7.25)}),
        SimulatedDevice(2, registry.get("keller/series30")),
    ]
    server = SimulatedTcpServer("127.0.0.1", 0, devices, framing=framing)  # type: ignore[arg-type]
    with run_in_thread(server):
        bus: dict[str, object] = {"transport": transport, "name": "gw", "host": "127.0.0.1", "port": server.port}
        if transport == "serial":
            bus = {"transport": "serial", "name": "gw", "port": f"socket://127.0.0.1:{server.port}"}
        config = {
            "buses": [bus],
            "devices": [
                {"name": "ph", "bus": "gw", "unit_id": 1, "profile": "yosemitech/y532", "period_s": 0.5},
                {"name": "level", "bus": "gw", "unit_id": 2, "profile": "keller/series30", "period_s": 0.5},
            ],
        }
        async with running_driver(config, tmp_path) as (driver, sink):
            await sink.wait_for(lambda: {r.device for r in sink.readings()} == {"ph", "level"})
            await sink.wait_for(lambda: any(r.point == "ph" for r in sink.readings("ph")))
            # identification through the same bus queue the pollers use
            matches = await driver.identify("gw", 1)
    ph = [r for r in sink.readings("ph") if r.point == "ph"]
    assert ph[0].value == pytest.approx(7.25) and ph[0].quality is Quality.GOOD
    assert {e.data["state"] for e in sink.events()} == {"online"}
    assert matches[0].profile == "yosemitech/y532"
    assert "yosemitech/y504" not in [m.profile for m in matches]  # same ident register, other points
