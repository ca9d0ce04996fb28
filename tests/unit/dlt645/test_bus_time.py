"""The bus cost model covers DL/T 645 framing (preamble, 11 bits a character at 8E1, turnaround), and a
line shared by Modbus and DL/T 645 buses refuses a poll period that only fits if the other protocol
were not there (no port needed: the line is shared before it opens)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from drivers.base import DriverContext, PeriodRefused
from drivers.dlt645.config import Dlt645DriverConfig
from drivers.dlt645.driver import Dlt645Driver
from drivers.dlt645.profiles import Dlt645Profiles
from drivers.dlt645.timing import read_bytes, read_time_s
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver

VOLTAGE = Dlt645Profiles.load().get("chint/ddsu666-dlt645").points["voltage"]


def test_a_2007_read_on_the_wire() -> None:
    # FE FE FE FE 68 A0..A5 68 11 04 DI0..DI3 CS 16, and the reply with XXX.X's 2 bytes after the DI
    assert read_bytes(VOLTAGE) == (20, 22)
    # 42 bytes of 11 bits at 2400 baud, 50 ms turnaround, 20 ms of quiet before the request
    assert read_time_s(VOLTAGE, 2400, 11, 0.05, 0.02) == pytest.approx(0.02 + 42 * 11 / 2400 + 0.05)
    assert read_bytes(VOLTAGE, preamble=0) == (16, 18)


async def test_a_mixed_line_counts_both_protocols_polls(tmp_path: Path) -> None:
    port = str(tmp_path / "ttyUSB0")  # missing: the drivers open, their line waits for the port
    context = DriverContext("gw", tmp_path, tmp_path, logging.getLogger("test"))
    modbus = ModbusDriver(ModbusDriverConfig.model_validate({
        "driver": "modbus", "name": "mb", "learned_ranges_file": False,
        "buses": [{"transport": "serial", "name": "rs1", "port": port, "baudrate": 2400, "parity": "E"}],
        "devices": [{"name": "sdm", "bus": "rs1", "unit_id": 1, "profile": "eastron/sdm120",
                     "points": {"voltage": {"period": 10}}}],
    }), context)
    meters = Dlt645Driver(Dlt645DriverConfig.model_validate({
        "driver": "dlt645", "name": "meters", "buses": [{"name": "cabinet", "port": port}],
        "devices": [{"name": "ddsu", "bus": "cabinet", "address": "000000000001", "profile": "chint/ddsu666-dlt645",
                     "points": {"voltage": {"period": 10}, "current": {"period": 10}}}],
    }), context)
    async with modbus:
        with pytest.raises(PeriodRefused) as alone:
            modbus.set_period("sdm", "voltage", 0.01)
        async with meters:
            read_s = meters.read_time_s("ddsu", "voltage") + meters.read_time_s("ddsu", "current")
            meters.set_period("ddsu", None, read_s * 1.25)  # the meter now takes 80 % of the line
            with pytest.raises(PeriodRefused) as shared:
                modbus.set_period("sdm", "voltage", alone.value.minimum_s)
            assert shared.value.minimum_s == pytest.approx(alone.value.minimum_s / 0.2, rel=0.01)
            with pytest.raises(PeriodRefused, match="at least"):
                meters.set_period("ddsu", None, read_s)  # fits alone, not beside the Modbus meter
            assert meters.set_period("ddsu", None, 10.0) == 10.0
        assert modbus.set_period("sdm", "voltage", alone.value.minimum_s) == alone.value.minimum_s
