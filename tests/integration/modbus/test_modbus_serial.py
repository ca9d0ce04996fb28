"""The Modbus driver over real socat pty pairs against the profile-driven device simulator.

Several devices share one wire-timed 9600-baud RS-485 line; a configured unit nobody answers
(real bus silence, not an exception) goes offline while the others keep being read; a device that
garbles its CRC still only ever yields good values; a write is verified by reading it back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import WriteRejected
from agent.records import Quality
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedBus, SimulatedDevice
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.modbus.helpers import running_driver

pytestmark = pytest.mark.hardware

REGISTRY = ProfileRegistry.load()


def device(unit: int, profile: str, **kwargs: object) -> SimulatedDevice:
    return SimulatedDevice(unit, REGISTRY.get(profile), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def line() -> Iterator[tuple[str, SimulatedBus, dict[int, SimulatedDevice]]]:
    devices = {
        1: device(1, "eastron/sdm120", generators={"voltage": ConstantSpec(value=231.5)}),
        2: device(2, "renke/rs-fsxcs-n01"),
        3: device(3, "waveshare/analog-output-8ch-b"),
        4: device(4, "witmotion/wt901c-485", faults=["corrupt-crc:0.3"], seed=7),
    }
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, list(devices.values())) as bus:
        yield master, bus, devices


def config(port: str) -> dict[str, object]:
    return {
        "offline_after": 2,
        "backoff_max_s": 2.0,
        "buses": [
            {
                "transport": "serial",
                "name": "rs485",
                "port": port,
                "baudrate": 9600,
                "timeout_s": 0.3,
                "retries": 0,
                "rs485": {"rts_level_for_tx": True},
            }
        ],
        "devices": [
            {
                "name": "meter",
                "bus": "rs485",
                "unit_id": 1,
                "profile": "eastron/sdm120",
                "period_s": 1.0,
                "points": ["voltage", "current", "active_power", "frequency", "total_energy"],
            },
            {"name": "weather", "bus": "rs485", "unit_id": 2, "profile": "renke/rs-fsxcs-n01", "period_s": 1.0},
            {
                "name": "lamp",
                "bus": "rs485",
                "unit_id": 3,
                "profile": "waveshare/analog-output-8ch-b",
                "period_s": 2.0,
                "points": ["dim_1", "dim_2"],
            },
            {
                "name": "tilt",
                "bus": "rs485",
                "unit_id": 4,
                "profile": "witmotion/wt901c-485",
                "period_s": 1.0,
                "points": ["roll", "pitch"],
            },
            {"name": "ghost", "bus": "rs485", "unit_id": 9, "profile": "renke/rs-fsxcs-n01-louver", "period_s": 1.0},
        ],
    }


async def test_shared_line_silent_unit_and_crc_noise(line, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    port, bus, _ = line
    async with running_driver(config(port), tmp_path) as (driver, sink):
        await sink.wait_for(lambda: [e.data["state"] for e in sink.events("ghost")] == ["offline"], 60)
        offline_at = len(sink.records)
        # the others keep being read after the silent unit went offline
        await sink.wait_for(
            lambda: {r.device for r in sink.readings()[offline_at:]} >= {"meter", "weather", "tilt"}, 60
        )
        # corrupted frames fail the CRC check and are counted as CRC errors of that device only
        await sink.wait_for(lambda: driver.buses["rs485"].counters.of(4).crc_errors > 0, 60)
        await sink.wait_for(lambda: len(sink.readings("tilt")) >= 4, 60)
        status = driver.status()
    readings = sink.readings()
    assert not sink.readings("ghost")
    meter = {r.point: r.value for r in sink.readings("meter")}
    assert meter["voltage"] == pytest.approx(231.5)
    assert set(meter) == {"voltage", "current", "active_power", "frequency", "total_energy"}
    assert {r.point for r in sink.readings("weather")} >= {"pm2_5", "pm10", "noise", "temperature"}
    # garbled frames are dropped by the CRC check, never decoded into values
    assert all(r.quality is Quality.GOOD for r in readings)
    assert sink.events("meter")[0].data["state"] == "online"
    devices = status["devices"]
    assert devices["ghost"]["state"] == "offline"  # type: ignore[index,call-overload]
    assert devices["tilt"]["line"]["crc_errors"] > 0  # type: ignore[index,call-overload,operator]
    for name in ("meter", "weather", "lamp", "ghost"):
        assert devices[name]["line"]["crc_errors"] == 0  # type: ignore[index,call-overload]
    assert devices["ghost"]["line"]["timeouts"] > 0  # type: ignore[index,call-overload,operator]
    assert status["buses"]["rs485"]["timeouts"] > 0  # type: ignore[index,call-overload,operator]
    assert bus.stats.requests > 0
    # a dead device logs one line per state change, not one per poll (ours and pymodbus' own)
    ghost_lines = [r for r in caplog.records if "device=ghost" in r.getMessage()]
    assert len(ghost_lines) == len(sink.events("ghost")) == 1
    no_response = [r for r in caplog.records if r.name.startswith("pymodbus") and "No response" in r.getMessage()]
    assert len(no_response) <= 1


async def test_write_with_read_back_over_serial(line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, _, devices = line
    async with running_driver(config(port), tmp_path) as (driver, sink):
        await driver.write_point("lamp", "dim_1", 7.5, verify=True)
        await sink.wait_for(lambda: any(r.point == "dim_1" and r.value == 7.5 for r in sink.readings("lamp")), 30)
        assert devices[3].value_of("dim_1") == pytest.approx(7.5)
        with pytest.raises(WriteRejected):
            await driver.write_point("lamp", "serial_parameters", 1)
        reading = await driver.read_point("lamp", "dim_1")
        assert reading.value == 7.5 and reading.quality is Quality.GOOD
