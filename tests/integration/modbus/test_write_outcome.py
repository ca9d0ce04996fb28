"""Issue 8, item 4: a write whose reply does not come is not sent again; its outcome is unknown.

The simulated dimmer applies a write at once and answers it 1.3 s later (``slow-write``, a device
committing to flash), against a master that waits 1.0 s and retries reads twice. Writes are not
idempotent, so the write must reach the device exactly once, and be reported as "may have been
applied", unless a read-back (``verify``) settles it. Real pty, real simulator, real driver, and
the real downlink command dispatcher.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.commands.config import CommandsConfig
from agent.commands.dispatcher import CommandDispatcher
from agent.errors import WriteOutcomeUnknown
from drivers.base import Driver
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import SimulatedBus, SimulatedDevice
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.modbus.helpers import running_driver

pytestmark = pytest.mark.hardware

REGISTRY = ProfileRegistry.load()


@pytest.fixture
def dimmer_line() -> Iterator[tuple[str, SimulatedBus, SimulatedDevice]]:
    dimmer = SimulatedDevice(3, REGISTRY.get("waveshare/analog-output-8ch-b"), faults=["slow-write:1300"])
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, [dimmer], baud=19200) as bus:
        yield master, bus, dimmer


def config(port: str) -> dict[str, Any]:
    return {
        "learned_ranges_file": False,
        "buses": [
            {"transport": "serial", "name": "rs485", "port": port, "baudrate": 19200, "timeout_s": 1.0, "retries": 2}
        ],
        # polled rarely: the writes and read-backs below are the only traffic that matters
        "devices": [
            {"name": "lamp", "bus": "rs485", "unit_id": 3, "profile": "waveshare/analog-output-8ch-b",
             "period_s": 3600, "points": ["dim_2"]},
        ],
    }


async def test_unconfirmed_write_is_sent_once_and_reported_unknown(dimmer_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, bus, dimmer = dimmer_line
    async with running_driver(config(port), tmp_path) as (driver, _):
        with pytest.raises(WriteOutcomeUnknown) as info:
            await driver.write_point("lamp", "dim_1", 7.5)
        assert info.value.device == "lamp.dim_1"
        assert "may have been applied" in str(info.value)
        assert bus.stats.writes == 1, "the write was sent again"
        assert dimmer.value_of("dim_1") == pytest.approx(7.5)  # it was applied all the same
        line = driver.buses["rs485"].counters.of(3)
        assert (line.timeouts, line.retries) == (1, 0)


async def test_read_back_decides_an_unconfirmed_write(dimmer_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, bus, dimmer = dimmer_line
    async with running_driver(config(port), tmp_path) as (driver, _):
        await driver.write_point("lamp", "dim_1", 4.25, verify=True)  # applied, as the read-back shows
        assert bus.stats.writes == 1
        assert dimmer.value_of("dim_1") == pytest.approx(4.25)


async def test_downlink_write_result_is_unknown(dimmer_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, bus, dimmer = dimmer_line

    class Targets:
        def __init__(self, driver: Driver[Any]) -> None:
            self.driver = driver

        def driver_for(self, device: str) -> Driver[Any] | None:
            return self.driver if device == "lamp" else None

        def resend_birth(self) -> None:
            return None

    async with running_driver(config(port), tmp_path / "driver") as (driver, _):
        dispatcher = CommandDispatcher(CommandsConfig(writable=["lamp.dim_*"]), Targets(driver), tmp_path)
        try:
            command = {"id": "w1", "expires_at": time.time() + 60, "kind": "write_point", "device": "lamp",
                       "point": "dim_1", "value": 3.0}
            result = orjson.loads(await dispatcher.handle_message("", orjson.dumps(command)))
        finally:
            await dispatcher.close()
    assert (result["ok"], result["code"]) == (False, "unknown")
    assert "may have been applied" in result["message"]
    assert bus.stats.writes == 1
    assert dimmer.value_of("dim_1") == pytest.approx(3.0)
