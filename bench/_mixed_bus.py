"""The mixed-bus row of ``bench_bus_utilisation``: Modbus devices and DL/T 645 meters on ONE line.

One ``edgepost simulate`` serves the bench's Modbus devices and DL/T 645 meters on one pty; a
ModbusDriver and a Dlt645Driver (two driver sections, one port: ``drivers.serialbus`` gives them one
queue) poll as fast as the line allows. The figure is the line's useful utilisation: every reading
completed, costed at its protocol's spec-optimum wire time, per second of the window. A Modbus
reading costs its device's wire optimum (``_wire.optimum_s``) over its point count; a DL/T 645
reading costs its two frames (``FE`` x4 preamble, ``68 A0..A5 68 C L``, the DI and the value, ``CS 16``)
plus the turnaround, written here from the standard apart from ``drivers.dlt645.timing``. The baseline
is 1.0 (the line carrying useful frames all the time); the Modbus-only row's ratio to its wire
optimum is the same quantity. The standard asks for no quiet gap between frames, so the driver's
``gap_ms`` (20 ms by default) is counted as overhead here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from _common import cancel_all, driver_tasks
from _wire import Line

from drivers.base import DriverContext, RecordSink
from drivers.dlt645.config import Dlt645DriverConfig
from drivers.dlt645.driver import Dlt645Driver
from drivers.dlt645.profiles import Dlt645Profiles
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.profiles import ProfileRegistry

METER_PROFILE = "chint/dtsu666-dlt645"
METER_POINTS = ["voltage_a", "voltage_b", "voltage_c", "current_a", "active_power", "frequency"]
PREAMBLE, HEADER, TAIL, DI_2007 = 4, 10, 2, 4  # FE FE FE FE; 68 A0..A5 68 C L; CS 16; a 2007 DI


def dlt645_read_s(value_bytes: int, line: Line, turnaround_s: float) -> float:
    """One read of a 2007 item on the wire: request (DI) and reply (DI + value), preambles included."""
    request = PREAMBLE + HEADER + DI_2007 + TAIL
    reply = PREAMBLE + HEADER + DI_2007 + value_bytes + TAIL
    return (request + reply) * line.char_s + turnaround_s


def meter_reading_s(line: Line, turnaround_s: float) -> float:
    """The mean wire cost of one reading of the bench meter's points (each polled equally often)."""
    points = Dlt645Profiles.load().get(METER_PROFILE).points
    costs = [dlt645_read_s(points[n].data_format.size, line, turnaround_s) for n in METER_POINTS]
    return sum(costs) / len(costs)


def meters_spec(count: int, turnaround_ms: float) -> str:
    """The ``meters:`` entries of a simulator bus (appended to its ``devices:``)."""
    rows = [f'      - {{meter: "{k + 1:012d}", profile: {METER_PROFILE}, turnaround_ms: {turnaround_ms}}}'
            for k in range(count)]
    return "    meters:\n" + "\n".join(rows) + "\n"


def meters_config(port: str, count: int, baud: int) -> Dlt645DriverConfig:
    return Dlt645DriverConfig.model_validate({
        "driver": "dlt645", "name": "bench-meters",
        "buses": [{"name": "cabinet", "port": port, "baudrate": baud, "parity": "N", "timeout_s": 0.5, "retries": 0}],
        "devices": [{"name": f"meter{k}", "bus": "cabinet", "address": f"{k + 1:012d}", "profile": METER_PROFILE,
                     "points": {n: {"period": 0.05} for n in METER_POINTS}} for k in range(count)],
    })


async def mixed_run(
    modbus_config: ModbusDriverConfig, meters: Dlt645DriverConfig, profiles: Path, state: Path,
    sink: RecordSink, warmup_s: float, window_s: float,
) -> tuple[float, int]:
    """Both drivers on one line for warm-up + window; (window start on perf_counter, the line's
    hand-overs between the two masters)."""
    context = DriverContext("bench", state, state, logging.getLogger("bench"))
    modbus = ModbusDriver(modbus_config, context, ProfileRegistry.load(profiles, strict=True))
    dlt645 = Dlt645Driver(meters, context)
    async with modbus, dlt645:
        tasks = [asyncio.create_task(modbus.run(sink)), asyncio.create_task(dlt645.run(sink))]
        start = time.perf_counter() + warmup_s
        await asyncio.sleep(warmup_s + window_s)
        line = dlt645.buses["cabinet"].line
        hand_overs = line.hand_overs if line is not None else 0
        meter_tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("dlt645[bench-meters]")]
        await cancel_all([*tasks, *driver_tasks("bench"), *meter_tasks])
    return start, hand_overs


def useful_utilisation(rates: dict[str, float], cost_s: Callable[[str], float]) -> float:
    """Seconds of spec-optimum wire time the completed readings stand for, per second."""
    return sum(rate * cost_s(device) for device, rate in rates.items())


__all__ = ["meter_reading_s", "meters_config", "meters_spec", "mixed_run", "useful_utilisation"]
