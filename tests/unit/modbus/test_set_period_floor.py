"""set_period refuses a period its bus cannot keep and names the shortest one it can (no wire needed)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.base import DriverContext, PeriodRefused
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.planner import PlanPoint, plan_reads, wire_time_s


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[ModbusDriver]:
    config = ModbusDriverConfig.model_validate({
        "driver": "modbus",
        "name": "mb",
        "buses": [{"transport": "serial", "name": "rs1", "port": str(tmp_path / "no-such-port"), "baudrate": 9600}],
        "devices": [
            {"name": "tilt", "bus": "rs1", "unit_id": 3, "profile": "witmotion/wt901c-485",
             "points": {"roll": {"period": 1.0}, "pitch": {"period": 1.0}}},
            {"name": "meter", "bus": "rs1", "unit_id": 1, "profile": "eastron/sdm120",
             "points": {"voltage": {"period": 0.5}, "current": {"period": 0.5}}},
        ],
    })
    d = ModbusDriver(config, DriverContext("gw", tmp_path, tmp_path, logging.getLogger("t")))
    await d.open()  # the port is missing: the bus stays closed, the pollers exist
    try:
        yield d
    finally:
        await d.close()


def read_time(d: ModbusDriver, device: str, names: list[str]) -> float:
    poller = d.pollers[device]
    plan = plan_reads([PlanPoint.of(n, poller.spec.points[n]) for n in names], poller.limits, poller.illegal,
                      poller.overhead_chars)
    return wire_time_s(plan, 9600, "N", 1, d.profiles[device].limits.turnaround_ms / 1000)


async def test_a_period_below_the_wire_time_is_refused_with_the_minimum(driver: ModbusDriver) -> None:
    tilt = read_time(driver, "tilt", ["roll", "pitch"])
    meter_load = read_time(driver, "meter", ["voltage", "current"]) / 0.5
    expected = tilt / (1 - meter_load)
    with pytest.raises(PeriodRefused) as refused:
        driver.set_period("tilt", None, 0.001)
    assert refused.value.minimum_s == pytest.approx(expected, abs=0.001)
    assert refused.value.minimum_s >= expected  # rounded up: asking for it is accepted
    assert "bus rs1" in str(refused.value)
    assert driver.pollers["tilt"].spec.periods == {"roll": 1.0, "pitch": 1.0}  # nothing changed
    assert driver.set_period("tilt", None, refused.value.minimum_s) == refused.value.minimum_s


async def test_one_point_is_held_to_its_own_reads_and_the_rest_of_the_line(driver: ModbusDriver) -> None:
    with pytest.raises(PeriodRefused) as refused:
        driver.set_period("tilt", "roll", 0.001)
    rest = read_time(driver, "tilt", ["pitch"]) / 1.0 + read_time(driver, "meter", ["voltage", "current"]) / 0.5
    assert refused.value.minimum_s == pytest.approx(read_time(driver, "tilt", ["roll"]) / (1 - rest), abs=0.001)
    assert driver.set_period("tilt", "roll", 2.0) == 2.0
    assert driver.pollers["tilt"].spec.periods == {"roll": 2.0, "pitch": 1.0}


async def test_a_line_already_full_refuses_any_period(driver: ModbusDriver) -> None:
    meter = driver.pollers["meter"]
    for name in meter.spec.periods:
        meter.spec.periods[name] = read_time(driver, "meter", ["voltage", "current"])  # 100 % of the line
    with pytest.raises(PeriodRefused) as refused:
        driver.set_period("tilt", None, 3600)
    assert refused.value.minimum_s == float("inf")


async def test_a_tcp_device_is_held_to_its_measured_request_time(tmp_path: Path) -> None:
    config = ModbusDriverConfig.model_validate({
        "driver": "modbus",
        "name": "mb",
        "buses": [{"transport": "tcp", "name": "gw", "host": "127.0.0.1", "port": 1, "timeout_s": 0.2}],
        "devices": [{"name": "meter", "bus": "gw", "unit_id": 1, "profile": "eastron/sdm120", "period_s": 5.0,
                     "points": ["voltage", "current"]}],
    })
    d = ModbusDriver(config, DriverContext("gw", tmp_path, tmp_path, logging.getLogger("t")))
    await d.open()  # nothing listens on port 1: the bus stays down, the poller exists
    try:
        assert d.set_period("meter", None, 0.01) == 0.01  # nothing measured yet: only commands.min_period_s holds
        stats = d.buses["gw"].stats
        stats.requests, stats.busy_s = 10, 0.5  # 50 ms a request, as measured on the wire
        requests = len(plan_reads([PlanPoint.of(n, d.pollers["meter"].spec.points[n]) for n in ("voltage", "current")],
                                  d.pollers["meter"].limits, d.pollers["meter"].illegal,
                                  d.pollers["meter"].overhead_chars))
        with pytest.raises(PeriodRefused) as refused:
            d.set_period("meter", None, 0.01)
        assert refused.value.minimum_s == pytest.approx(requests * 0.05, abs=0.001)
    finally:
        await d.close()
