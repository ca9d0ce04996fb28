"""The DL/T 645 driver against the meter simulator on a socat pty: values as served (with their
units and the profile's scale), online/offline events, a refused item as a bad reading, line
counters in the status, and the writes (broadcast time sync, relay control with its password)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agent.errors import WriteRejected
from agent.records import Quality
from drivers.base import DriverContext
from drivers.dlt645.config import Dlt645DriverConfig
from drivers.dlt645.driver import Dlt645Driver
from drivers.dlt645.requests import Password, RelayCommand
from tests.integration.dlt645.helpers import meter, simulated_line
from tests.integration.modbus.helpers import CollectingSink, until

pytestmark = pytest.mark.hardware

SERVED = {"voltage": 231.4, "current": -2.345, "active_power": -0.5432, "frequency": 49.98, "import_energy": 1234.56}


def config(port: str, devices: list[dict[str, Any]], **bus: Any) -> Dlt645DriverConfig:
    return Dlt645DriverConfig.model_validate({
        "driver": "dlt645", "name": "meters", "offline_after": 2, "backoff_max_s": 2.0,
        # a pty takes no parity: the master opens it 8N1 (the simulator models the 8E1 wire)
        "buses": [{"name": "cabinet", "port": port, "baudrate": 9600, "parity": "N", "timeout_s": 0.5, **bus}],
        "devices": devices,
    })


def device(name: str, address: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "bus": "cabinet", "address": address, "profile": "chint/ddsu666-dlt645",
            "points": {n: {"period": 0.5} for n in SERVED}, **extra}


@asynccontextmanager
async def running(cfg: Dlt645DriverConfig, tmp_path: Path) -> AsyncIterator[tuple[Dlt645Driver, CollectingSink]]:
    import asyncio

    context = DriverContext(gateway_id="gw", state_dir=tmp_path, config_dir=tmp_path, logger=logging.getLogger("t"))
    sink = CollectingSink()
    async with Dlt645Driver(cfg, context) as driver:
        task = asyncio.create_task(driver.run(sink))
        try:
            yield driver, sink
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def test_values_reach_the_sink_as_served_and_a_silent_meter_goes_offline(tmp_path: Path) -> None:
    served = meter("000000000001", "chint/ddsu666-dlt645", SERVED, turnaround_ms=5)
    silent = meter("000000000002", "chint/ddsu666-dlt645", SERVED, turnaround_ms=5, faults=["silent"])
    with simulated_line([served, silent], baud=9600) as (port, _):
        cfg = config(port, [device("m1", "000000000001"), device("m2", "000000000002")])
        async with running(cfg, tmp_path) as (driver, sink):
            await sink.wait_for(lambda: {p.point for p in sink.readings("m1")} >= set(SERVED)
                                and [e.data["state"] for e in sink.events("m2")] == ["offline"], 60)
            status: Any = driver.status()
    good = [r for r in sink.readings("m1") if r.quality is Quality.GOOD]
    assert {(r.point, r.value) for r in good} == set(SERVED.items())
    assert {r.point: r.unit for r in good}["voltage"] == "V"
    assert [e.data["state"] for e in sink.events("m1")][:1] in (["online"], ["degraded"])
    assert not sink.readings("m2"), "a silent meter gives no values"
    assert status["devices"]["m1"]["line"]["timeouts"] == 0
    assert status["devices"]["m2"]["line"]["timeouts"] >= 2 and status["devices"]["m2"]["state"] == "offline"
    assert status["buses"]["cabinet"]["state"] == "open"


async def test_a_refused_item_is_a_bad_reading_never_a_value(tmp_path: Path) -> None:
    refusing = meter("000000000001", "chint/ddsu666-dlt645", SERVED, turnaround_ms=5, faults=["exception:2"])
    with simulated_line([refusing], baud=9600) as (port, _):
        async with running(config(port, [device("m1", "000000000001")]), tmp_path) as (driver, sink):
            await sink.wait_for(lambda: len(sink.readings("m1")) >= 5, 60)
            status: Any = driver.status()
    assert {r.quality for r in sink.readings("m1")} == {Quality.BAD}
    assert {r.value for r in sink.readings("m1")} == {None}
    assert status["devices"]["m1"]["abnormal"] >= 5 and status["devices"]["m1"]["line"]["abnormal"] >= 5


async def test_clock_broadcast_and_relay_control_with_its_password(tmp_path: Path) -> None:
    relay_meter = meter("000000000001", "chint/ddsu666-dlt645", SERVED, turnaround_ms=5,
                        relay_password=Password(2, "123456"))
    other = meter("000000000002", "chint/ddsu666-dlt645", SERVED, turnaround_ms=5)
    devices = [device("m1", "000000000001", relay={"password": "123456"}), device("m2", "000000000002")]
    with simulated_line([relay_meter, other], baud=9600) as (port, _):
        async with running(config(port, devices), tmp_path) as (driver, sink):
            await driver.write_point("m1", "clock", "2026-03-04T05:06:07")
            await until(lambda: relay_meter.clock_set_to is not None and other.clock_set_to is not None, 30)
            await driver.write_point("m1", "relay", "open")
            assert relay_meter.relay is RelayCommand.TRIP
            with pytest.raises(WriteRejected, match="password"):
                await driver.write_point("m2", "relay", "open")
            with pytest.raises(WriteRejected, match="not writable"):
                await driver.write_point("m1", "voltage", 1.0)
            reading = await driver.read_point("m1", "voltage")
            await sink.wait_for(lambda: bool(sink.readings("m2")), 30)  # polling went on around the writes
    assert relay_meter.clock_set_to == other.clock_set_to == datetime(2026, 3, 4, 5, 6, 7)
    assert other.relay is None
    assert reading.value == SERVED["voltage"]


async def test_probe_by_broadcast_read_address_and_a_raw_item_read(tmp_path: Path) -> None:
    from agent.errors import FramingError
    from drivers.dlt645.raw_verbs import ReadAddressArgs, ReadItemArgs

    alone = meter("000012345678", "chint/ddsu666-dlt645", SERVED, turnaround_ms=5)
    with simulated_line([alone], baud=9600) as (port, _):
        async with running(config(port, []), tmp_path) as (driver, _):
            assert driver.serial_ports() == [port]
            assert await driver.raw("cabinet", "read_address", ReadAddressArgs()) == {"address": "000012345678"}
            item = ReadItemArgs(address="000012345678", di="02 80 00 02", format="XX.XX")
            assert await driver.raw("cabinet", "read", item) == {
                "address": "000012345678", "di": "02 80 00 02", "value": SERVED["frequency"]}
    two = [meter("000000000001", "chint/ddsu666-dlt645", turnaround_ms=5),
           meter("000000000002", "chint/ddsu666-dlt645", turnaround_ms=5)]
    with simulated_line(two, baud=9600) as (port, _):
        async with running(config(port, []), tmp_path) as (driver, _):
            with pytest.raises(FramingError):  # both answer at once: a collision, never an address
                await driver.raw("cabinet", "read_address", ReadAddressArgs())
