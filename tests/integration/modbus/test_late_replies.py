"""Issue 8, item 1: a device answering after its timeout must never turn into a value.

The real simulator serves an SDM120 whose every point holds its own constant, on a socat pty at
19200 baud, with ``slow:1300`` against a master that waits ``timeout_s: 1.0`` with one retry. Every
reply of that meter arrives after its request timed out, so none may become a reading: not as
the value of another point (RTU frames carry no transaction id: a late float32 reply looks exactly
like the answer to the next two-register read), not as an exception 2 that teaches an illegal
range, and on a shared bus not as a fault of the neighbour whose request happened to be waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.records import Quality
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedBus, SimulatedDevice, SimulatedTcpServer, run_in_thread
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.modbus.helpers import running_driver

# long: minutes of a 1.3 s device (make test-long); make test proves the same through the rig's slow-device scenario
pytestmark = [pytest.mark.hardware, pytest.mark.long]

REGISTRY = ProfileRegistry.load()
SDM120 = REGISTRY.get("eastron/sdm120")
POINTS = ["voltage", "current", "active_power", "frequency"]
# distinct per point and per meter, exact in float32
SLOW_VALUES = {"voltage": 101.0, "current": 202.0, "active_power": 303.0, "frequency": 404.0}
HEALTHY_VALUES = {name: value + 1000.0 for name, value in SLOW_VALUES.items()}


def meter(unit: int, values: dict[str, float], faults: list[str] | None = None) -> SimulatedDevice:
    return SimulatedDevice(unit, SDM120, {n: ConstantSpec(value=v) for n, v in values.items()}, faults=faults)


def config(bus: dict[str, Any], devices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "offline_after": 3,
        "backoff_max_s": 3.0,
        "learned_ranges_file": False,
        "buses": [{**bus, "name": "rs485", "timeout_s": 1.0, "retries": 1}],
        "devices": devices,
    }


def serial_bus(port: str) -> dict[str, Any]:
    return {"transport": "serial", "port": port, "baudrate": 19200}


def device(name: str, unit: int) -> dict[str, Any]:
    return {
        "name": name, "bus": "rs485", "unit_id": unit, "profile": "eastron/sdm120", "period_s": 1.0, "points": POINTS,
    }


async def until(condition: Callable[[], bool], timeout_s: float) -> None:
    """Poll ``condition`` (simulator counters change without any record reaching the sink)."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 -- the counters live in the simulator's thread
            await asyncio.sleep(0.2)


@pytest.fixture
def slow_line() -> Iterator[tuple[str, SimulatedBus, dict[int, SimulatedDevice]]]:
    devices = {1: meter(1, SLOW_VALUES, ["slow:1300"])}
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, list(devices.values()), baud=19200) as bus:
        yield master, bus, devices


@pytest.fixture
def shared_line() -> Iterator[tuple[str, SimulatedBus, dict[int, SimulatedDevice]]]:
    devices = {9: meter(9, SLOW_VALUES, ["slow:1300"]), 3: meter(3, HEALTHY_VALUES)}
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, list(devices.values()), baud=19200) as bus:
        yield master, bus, devices


@pytest.mark.timeout(240)
async def test_slow_meter_never_gives_another_points_value(slow_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, _, devices = slow_line
    slow = devices[1]
    await _slow_meter_alone(serial_bus(port), slow, tmp_path)


@pytest.mark.timeout(240)
async def test_slow_meter_behind_an_rtu_over_tcp_server(tmp_path: Path) -> None:
    slow = meter(1, SLOW_VALUES, ["slow:1300"])
    server = SimulatedTcpServer("127.0.0.1", 0, [slow], framing="rtu")  # a serial server on the pole
    with run_in_thread(server):
        await _slow_meter_alone({"transport": "rtu-over-tcp", "host": "127.0.0.1", "port": server.port}, slow, tmp_path)


async def _slow_meter_alone(bus: dict[str, Any], slow: SimulatedDevice, tmp_path: Path) -> None:
    async with running_driver(config(bus, [device("meter", 1)]), tmp_path) as (driver, sink):
        # the meter has been asked (and answered late) many times: long enough on main for late
        # replies to become the values of the next reads and exception 2 to teach illegal ranges
        await until(lambda: slow.requests >= 12, 150)
        poller = driver.pollers["meter"]
        status = driver.status()
    readings = sink.readings("meter")
    wrong = [(r.point, r.value) for r in readings if r.quality is Quality.GOOD and r.value != SLOW_VALUES[r.point]]
    assert not wrong, f"late replies became values of other points: {wrong}"
    assert not poller.illegal, f"illegal ranges learned from late replies: {poller.illegal.as_dict()}"
    assert not poller.unreadable
    # every reply came 1.3 s after a request that waited 1.0 s: none of them answered in time
    assert not [r for r in readings if r.quality is Quality.GOOD]
    assert [e.data["state"] for e in sink.events("meter")] == ["offline"]
    line = status["devices"]["meter"]["line"]  # type: ignore[index,call-overload]
    assert line["timeouts"] >= 3 and line["retries"] >= 1  # type: ignore[index,call-overload,operator]
    assert line["mismatched"] >= 1, "the late frames were heard and discarded"  # type: ignore[index,call-overload,operator]
    assert line["exceptions"] == 0  # type: ignore[index,call-overload]


@pytest.mark.timeout(240)
async def test_slow_meter_does_not_degrade_its_healthy_neighbour(shared_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, _, devices = shared_line
    slow, healthy = devices[9], devices[3]
    cfg = config(serial_bus(port), [device("slow", 9), device("healthy", 3)])
    async with running_driver(cfg, tmp_path) as (driver, sink):
        await until(lambda: slow.requests >= 8 and healthy.requests >= 30, 180)
        status = driver.status()
        pollers = driver.pollers
    for name, values in (("slow", SLOW_VALUES), ("healthy", HEALTHY_VALUES)):
        good = [r for r in sink.readings(name) if r.quality is Quality.GOOD]
        wrong = [(r.point, r.value) for r in good if r.value != values[r.point]]
        assert not wrong, f"{name}: values of another device or point: {wrong}"
    assert not [r for r in sink.readings("slow") if r.quality is Quality.GOOD], "late replies became readings"
    assert not pollers["slow"].illegal
    assert [e.data["state"] for e in sink.events("healthy")] == ["online"]
    assert [e.data["state"] for e in sink.events("slow")] == ["offline"]
    devices_status: Any = status["devices"]
    bus_status: Any = status["buses"]["rs485"]  # type: ignore[index,call-overload]
    # the slow meter carries every timeout and every late frame on the line; its neighbour none
    assert devices_status["healthy"]["line"]["timeouts"] == 0
    assert devices_status["healthy"]["line"]["mismatched"] == 0
    assert devices_status["healthy"]["timeouts"] == devices_status["healthy"]["errors"] == 0
    assert devices_status["slow"]["line"]["timeouts"] == bus_status["timeouts"] > 0
    assert devices_status["slow"]["line"]["mismatched"] >= 1
