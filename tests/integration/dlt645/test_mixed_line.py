"""Modbus RTU and DL/T 645 devices on one RS-485 line (one socat pty, one simulator serving both),
read by a Modbus driver and a DL/T 645 driver configured on the same port: one queue, one master.

Both drivers' values are the simulator's; no frame collided or failed to frame (the simulator saw
no garbage, no master counted noise, CRC or checksum errors); one transaction was on the wire at a
time. A Modbus device answering after its timeout is waited out before the line passes to the
meters: its late frames are counted on it, never heard by the DL/T 645 master.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from agent.records import Quality
from drivers.base import DriverContext
from drivers.dlt645.config import Dlt645DriverConfig
from drivers.dlt645.driver import Dlt645Driver
from drivers.dlt645.simulator import SimulatedMeter
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedBus, SimulatedDevice
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.dlt645.helpers import PROFILES
from tests.integration.modbus.helpers import CollectingSink

pytestmark = pytest.mark.hardware

SDM120 = ProfileRegistry.load().get("eastron/sdm120")
MODBUS_VALUES = {"voltage": 229.5, "current": 1.25, "frequency": 50.5}
METER_VALUES = {"voltage": 231.4, "current": -2.345, "import_energy": 1234.56, "frequency": 49.98}
BAUD = 9600


@pytest.fixture
def cabinet() -> Iterator[tuple[str, SimulatedBus, SimulatedDevice, SimulatedDevice, SimulatedMeter]]:
    """A line with a healthy SDM120 (unit 1), an SDM120 answering 1.3 s late (unit 9) and a DDSU666."""
    healthy = SimulatedDevice(1, SDM120, {n: ConstantSpec(value=v) for n, v in MODBUS_VALUES.items()})
    slow = SimulatedDevice(9, SDM120, {n: ConstantSpec(value=v) for n, v in MODBUS_VALUES.items()},
                           faults=["slow:1300"])
    meter = SimulatedMeter("000012345678", PROFILES.get("chint/ddsu666-dlt645"), METER_VALUES, turnaround_ms=5)
    with socat_pty_pair() as (master, slave), running_simulated_bus(
        slave, [healthy, slow], baud=BAUD, meters=[meter]
    ) as bus:
        yield master, bus, healthy, slow, meter


def configs(port: str, modbus_units: list[int]) -> tuple[ModbusDriverConfig, Dlt645DriverConfig]:
    modbus = ModbusDriverConfig.model_validate({
        "driver": "modbus", "name": "mb", "learned_ranges_file": False, "backoff_max_s": 3.0,
        "buses": [{"transport": "serial", "name": "rs485", "port": port, "baudrate": BAUD, "timeout_s": 1.0}],
        "devices": [{"name": f"sdm{u}", "bus": "rs485", "unit_id": u, "profile": "eastron/sdm120", "period_s": 0.5,
                     "points": {n: {"period": 0.5} for n in MODBUS_VALUES}} for u in modbus_units],
    })
    dlt645 = Dlt645DriverConfig.model_validate({
        "driver": "dlt645", "name": "meters",
        "buses": [{"name": "cabinet", "port": port, "baudrate": BAUD, "parity": "N", "timeout_s": 1.0}],
        "devices": [{"name": "ddsu", "bus": "cabinet", "address": "000012345678", "profile": "chint/ddsu666-dlt645",
                     "points": {n: {"period": 0.5} for n in METER_VALUES}}],
    })
    return modbus, dlt645


@asynccontextmanager
async def both_running(port: str, units: list[int], tmp_path: Path) -> AsyncIterator[tuple[Any, Any, CollectingSink]]:
    modbus_cfg, dlt645_cfg = configs(port, units)
    context = DriverContext("gw", tmp_path, tmp_path, logging.getLogger("test"))
    sink = CollectingSink()
    async with AsyncExitStack() as stack:
        modbus = await stack.enter_async_context(ModbusDriver(modbus_cfg, context))
        meters = await stack.enter_async_context(Dlt645Driver(dlt645_cfg, context))
        tasks = [asyncio.create_task(d.run(sink)) for d in (modbus, meters)]
        try:
            yield modbus, meters, sink
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task


def _all_good(sink: CollectingSink, device: str, values: dict[str, float], count: int) -> bool:
    good = [r for r in sink.readings(device) if r.quality is Quality.GOOD]
    return len(good) >= count and {r.point for r in good} >= set(values)


async def test_one_line_two_protocols_two_driver_sections(cabinet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, bus, healthy, _, meter = cabinet
    async with both_running(port, [1], tmp_path) as (modbus, meters, sink):
        await sink.wait_for(lambda: _all_good(sink, "sdm1", MODBUS_VALUES, 30)
                            and _all_good(sink, "ddsu", METER_VALUES, 30), 120)
        modbus_status: Any = modbus.status()
        meters_status: Any = meters.status()
        line = meters.buses["cabinet"].line
        assert line is modbus.buses["rs485"].line, "one port, one line"
        assert line.holders == 2 and line.max_in_flight == 1 and line.hand_overs > 0
    for device, values in (("sdm1", MODBUS_VALUES), ("ddsu", METER_VALUES)):
        wrong = [(r.point, r.value) for r in sink.readings(device) if r.value != values[r.point]]
        assert not wrong, f"{device}: {wrong}"
    assert bus.stats.garbage == 0 and bus.meter_responder is not None and bus.meter_responder.stats.garbage == 0
    modbus_line = modbus_status["buses"]["rs485"]["line"]  # (an exception 2 may teach the SDM120's holes)
    assert [modbus_line[k] for k in ("timeouts", "crc_errors", "mismatched", "retries")] == [0, 0, 0, 0]
    assert all(v == 0 for v in meters_status["buses"]["cabinet"]["line"].values())
    assert meters_status["buses"]["cabinet"]["shared_line"]["holders"] == 2
    assert healthy.requests > 0 and meter.requests > 0


async def test_a_late_modbus_reply_never_reaches_the_meters_wait(cabinet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, _, _, slow, meter = cabinet
    async with both_running(port, [9], tmp_path) as (modbus, meters, sink):
        await sink.wait_for(lambda: _all_good(sink, "ddsu", METER_VALUES, 20) and slow.requests >= 4, 150)
        modbus_status: Any = modbus.status()
        meters_status: Any = meters.status()
    assert not [r for r in sink.readings("sdm9") if r.quality is Quality.GOOD], "late replies became values"
    wrong = [(r.point, r.value) for r in sink.readings("ddsu") if r.value != METER_VALUES[r.point]]
    assert not wrong
    assert modbus_status["devices"]["sdm9"]["line"]["mismatched"] >= 1, "the late frames were heard, on unit 9"
    meter_line = meters_status["buses"]["cabinet"]["line"]
    assert meter_line["noise_bytes"] == 0, "the DL/T 645 master heard a Modbus frame"
    assert meters_status["devices"]["ddsu"]["timeouts"] == 0
    assert meter.requests > 0
