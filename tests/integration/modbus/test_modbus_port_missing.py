"""A serial port that is not there yet, is pulled out, or comes back under another pty.

The driver's port is a symlink (like /dev/serial/by-id/...) to one end of a socat pty pair; the
device simulator sits on the other end. The test removes and re-creates the link, and kills socat
to unplug, so pymodbus sees the pty vanish as it would see a USB adapter vanish.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.records import Quality
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedDevice
from tests.fixtures.hotplug import HotplugAdapter
from tests.integration.modbus.helpers import CollectingSink, running_driver, until

pytestmark = pytest.mark.hardware

REGISTRY = ProfileRegistry.load()
REOPEN_MIN_S = 0.2


def meter() -> SimulatedDevice:
    return SimulatedDevice(1, REGISTRY.get("eastron/sdm120"), {"voltage": ConstantSpec(value=231.5)})


def config(port: Path) -> dict[str, object]:
    return {
        "offline_after": 2,
        "backoff_max_s": 1.0,
        "buses": [
            {
                "transport": "serial",
                "name": "rs485",
                "port": str(port),
                "timeout_s": 0.3,
                "retries": 0,
                "reopen_min_s": REOPEN_MIN_S,
                "reopen_max_s": 1.0,
            }
        ],
        "devices": [
            {
                "name": "meter",
                "bus": "rs485",
                "unit_id": 1,
                "profile": "eastron/sdm120",
                "points": {"voltage": {"period": 0.3}},
            }
        ],
    }


def bus_states(sink: CollectingSink) -> list[str]:
    return [str(e.data["state"]) for e in sink.events("rs485", kind="bus_state")]


def good_voltages(sink: CollectingSink, since: int = 0) -> list[float]:
    return [
        float(r.value)  # type: ignore[arg-type]
        for r in sink.records[since:]
        if getattr(r, "point", None) == "voltage" and r.quality is Quality.GOOD  # type: ignore[union-attr]
    ]


async def test_port_absent_at_start_opens_when_plugged_and_again_after_a_replug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    link = tmp_path / "ttyUSB0"
    with HotplugAdapter(link, [meter()]) as adapter:
        async with running_driver(config(link), tmp_path) as (driver, sink):
            await sink.wait_for(lambda: bus_states(sink) == ["port missing"])
            status = driver.status()["buses"]["rs485"]  # type: ignore[index]
            assert status["state"] == "port missing" and status["port"] == str(link)  # type: ignore[index]
            # the device is reported offline while its port is missing, with no reading made up
            await sink.wait_for(lambda: [e.data["state"] for e in sink.events("meter")] == ["offline"])
            assert not sink.readings()
            # it keeps trying, spaced by the back-off (no spin), and says so once, not once per try
            await until(lambda: driver.buses["rs485"].links[0].failed_opens >= 4)

            adapter.plug()
            await sink.wait_for(lambda: len(good_voltages(sink)) >= 3)
            assert good_voltages(sink) == [231.5] * len(good_voltages(sink))
            assert bus_states(sink) == ["port missing", "open"]
            assert driver.status()["buses"]["rs485"]["state"] == "open"  # type: ignore[index]

            adapter.unplug()  # pulled out: socat dies, the pty the driver holds goes away
            await sink.wait_for(lambda: bus_states(sink)[-1] == "port missing")
            assert bus_states(sink)[2:] == ["lost", "port missing"]
            unplugged_at = len(sink.records)

            adapter.plug()  # back, on a different pty behind the same link
            await sink.wait_for(lambda: len(good_voltages(sink, unplugged_at)) >= 3)
            assert bus_states(sink)[-1] == "open"
            assert driver.status()["buses"]["rs485"]["state"] == "open"  # type: ignore[index]

    bus_lines = [r for r in caplog.records if "event=bus_state" in r.getMessage()]
    assert len(bus_lines) == len(bus_states(sink)) == 5
    # pymodbus was never asked to open the missing port, so it logged nothing per try either
    assert not [r for r in caplog.records if r.name.startswith("pymodbus") and "Failed to connect" in r.getMessage()]


async def test_a_missing_port_is_tried_with_growing_waits(tmp_path: Path) -> None:
    """Each try waits longer (jittered doubling, capped): the count of tries is bounded by the time
    spent, whatever the machine's load, and the wait before the next one is in the status."""
    link = tmp_path / "ttyUSB0"
    async with running_driver(config(link), tmp_path) as (driver, _):
        keeper = driver.buses["rs485"].links[0]
        await until(lambda: keeper.failed_opens >= 5)
        status = driver.status()["buses"]["rs485"]  # type: ignore[index]
        assert status["failed_opens"] >= 5 and status["next_open_at"] > status["state_changed_at"]  # type: ignore[index,operator]
        elapsed = keeper.next_open_at - keeper.changed_at  # type: ignore[operator]
        # waits of at least 0.8 * min(0.2 * 2**k, 1.0) each: 5 tries need well over half a second
        assert elapsed >= 0.8 * (0.2 + 0.4 + 0.8 + 1.0)


async def test_a_tcp_endpoint_down_at_start_is_connected_once_it_listens(tmp_path: Path) -> None:
    """The same keeper serves TCP buses: pymodbus' own reconnect never covered a first connect that failed."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType as SimType
    from pymodbus.simulator import SimData, SimDevice

    from tests.integration.modbus.helpers import free_port, registry_of
    from tests.integration.modbus.test_modbus_tcp import PROFILE

    port = free_port()
    tcp = {
        "buses": [{"transport": "tcp", "name": "plc", "host": "127.0.0.1", "port": port, "timeout_s": 0.5,
                   "reopen_min_s": REOPEN_MIN_S, "reopen_max_s": 1.0}],
        "devices": [{"name": "plc1", "bus": "plc", "unit_id": 1, "profile": "test/plc", "period_s": 0.2,
                     "points": ["voltage"]}],
    }
    async with running_driver(tcp, tmp_path, registry_of(PROFILE)) as (driver, sink):
        await sink.wait_for(lambda: [str(e.data["state"]) for e in sink.events("plc", "bus_state")] == ["open failed"])
        holding = [SimData(0, values=[2301], datatype=SimType.REGISTERS)]
        bits = [SimData(0, count=8, values=False, datatype=SimType.BITS)]
        inputs = [SimData(0, values=[0], datatype=SimType.REGISTERS)]
        device = SimDevice(id=1, simdata=(bits, list(bits), holding, inputs))
        server = ModbusTcpServer(device, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        try:
            await sink.wait_for(lambda: any(r.value == 230.1 for r in sink.readings("plc1")))
            assert driver.status()["buses"]["plc"]["state"] == "open"  # type: ignore[index]
        finally:
            await server.shutdown()
