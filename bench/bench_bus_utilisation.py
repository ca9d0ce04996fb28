"""Bus utilisation: 8 simulated devices x 30 scattered points on ONE wire-timed 9600-baud RS-485 bus.

The simulator (``edgepost simulate``, a separate process) serves one end of a socat pty pair with
the wire-timing model; the ModbusDriver (read planner + scheduler) polls from the other end, as fast
as the bus allows. Printed, medians over repeats:
- planner readings/s, the wire-time optimum for the same points (exact DP over partitions of each
  device's points into requests, gaps read along, each request costing 8 + 5 bytes, 2 x 3.5 chars of
  silence and the turnaround), and their ratio (goal >= 0.95);
- beside it on the same bus, a one-request-per-point poller (pymodbus client), its wire-time bound,
  and the planner/naive ratio.

    .venv/bin/python bench/bench_bus_utilisation.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    BenchPoint,
    cancel_all,
    driver_tasks,
    median,
    naive_cycle_s,
    optimum_cycle_s,
    profile_yaml,
    quiet_logs,
    scattered_points,
    socat_pty_pair,
    start_simulator,
    stop_simulator,
)
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusException

from agent.records import Quality, Reading, Record
from drivers.base import DriverContext
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator.wire import WireTiming

DEVICES = 8
POINTS = 30
BAUD = 9600
TURNAROUND_MS = 5.0


class TimingSink:
    """Arrival time of every good reading, per device; a cycle's readings arrive together at its end."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}

    async def put(self, record: Record) -> None:
        if isinstance(record, Reading) and record.quality is Quality.GOOD:
            self.arrivals.setdefault(record.device, []).append(time.perf_counter())


def steady_rate(arrivals: dict[str, list[float]], start: float, end: float) -> float:
    """Readings per second in steady state: per device, the readings completed after its first
    completion inside [start, end] over the time to its last one, summed over the devices.

    Completion to completion, so a window edge never cuts a device's cycle in half (a cycle of a
    device on a shared 9600-baud line lasts seconds).
    """
    total = 0.0
    for times in arrivals.values():
        inside = [t for t in times if start <= t <= end]
        if len(inside) < 2:
            continue
        first = inside[0]
        counted = sum(1 for t in inside if t > first + 0.001)
        if counted and inside[-1] > first:
            total += counted / (inside[-1] - first)
    return total


def write_setup(root: Path, slave_port: str) -> tuple[Path, Path, list[list[BenchPoint]]]:
    profiles = root / "profiles"
    (profiles / "bench").mkdir(parents=True)
    layouts = [scattered_points(POINTS, seed=100 + k) for k in range(DEVICES)]
    for k, points in enumerate(layouts):
        (profiles / "bench" / f"dev{k}.yaml").write_text(profile_yaml(f"Dev{k}", points, TURNAROUND_MS))
    devices = "\n".join(f"      - {{unit: {k + 1}, profile: bench/dev{k}, holes: allow}}" for k in range(DEVICES))
    spec = root / "sim.yaml"
    spec.write_text(f"profiles_dir: {profiles}\nbuses:\n  - serial: {{port: {slave_port}, baud: {BAUD}}}\n"
                    f"    devices:\n{devices}\n")
    return profiles, spec, layouts


async def planner_rate(master: str, profiles: Path, state: Path, warmup_s: float, window_s: float) -> float:
    config = ModbusDriverConfig.model_validate({
        "driver": "modbus",
        "name": "bench",
        "buses": [{"transport": "serial", "name": "rs485", "port": master, "baudrate": BAUD,
                   "timeout_s": 0.5, "retries": 0}],
        "devices": [{"name": f"d{k}", "bus": "rs485", "unit_id": k + 1, "profile": f"bench/dev{k}",
                     "period_s": 0.05} for k in range(DEVICES)],
        "learned_ranges_file": False,
    })
    context = DriverContext("bench", state, state, logging.getLogger("bench"))
    driver = ModbusDriver(config, context, ProfileRegistry.load(profiles, strict=True))
    sink = TimingSink()
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        start = time.perf_counter() + warmup_s
        await asyncio.sleep(warmup_s + window_s)
        await cancel_all([task, *driver_tasks("bench")])
    return steady_rate(sink.arrivals, start, start + window_s)


async def naive_rate(master: str, layouts: list[list[BenchPoint]], warmup_s: float, window_s: float) -> float:
    """One request per point, round robin over the devices, 3.5 chars of silence between frames."""
    gap = WireTiming(BAUD).silence_s
    client = AsyncModbusSerialClient(master, baudrate=BAUD, timeout=0.5, retries=0)
    await client.connect()
    arrivals: dict[str, list[float]] = {}
    start = time.perf_counter() + warmup_s
    try:
        while time.perf_counter() < start + window_s:
            for unit, points in enumerate(layouts, start=1):
                for point in points:
                    try:
                        response = await client.read_input_registers(point.address, count=point.count,
                                                                     device_id=unit)
                        if not response.isError():
                            arrivals.setdefault("naive", []).append(time.perf_counter())
                    except ModbusException:
                        pass
                    await asyncio.sleep(gap)
    finally:
        client.close()
    return steady_rate(arrivals, start, start + window_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short repeat")
    args = parser.parse_args()
    quiet_logs()
    repeats, warmup_s, window_s = (1, 4.0, 12.0) if args.quick else (3, 4.0, 30.0)

    timing = WireTiming(BAUD)
    turnaround_s = TURNAROUND_MS / 1000
    planner: list[float] = []
    naive: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, socat_pty_pair() as (master, slave):
        profiles, spec, layouts = write_setup(Path(tmp), slave)
        optimum = DEVICES * POINTS / sum(optimum_cycle_s(p, timing, turnaround_s) for p in layouts)
        naive_bound = DEVICES * POINTS / sum(naive_cycle_s(p, timing, turnaround_s) for p in layouts)
        simulator, _ = start_simulator(spec)
        try:
            for _ in range(repeats):
                planner.append(asyncio.run(planner_rate(master, profiles, Path(tmp), warmup_s, window_s)))
                naive.append(asyncio.run(naive_rate(master, layouts, warmup_s, window_s)))
        finally:
            stop_simulator(simulator)

    p, n = median(planner), median(naive)
    print(f"bus utilisation: {DEVICES} devices x {POINTS} scattered points, one {BAUD}-baud wire-timed bus, "
          f"turnaround {TURNAROUND_MS:g} ms, {repeats} x {window_s:g} s")
    print(f"  planner (ModbusDriver)     {p:8.1f} readings/s   runs: {', '.join(f'{v:.1f}' for v in planner)}")
    print(f"  wire-time optimum (DP)     {optimum:8.1f} readings/s")
    print(f"  planner / optimum          {p / optimum:8.3f}          (goal >= 0.95)")
    print(f"  naive one-request-per-point{n:8.1f} readings/s   runs: {', '.join(f'{v:.1f}' for v in naive)}")
    print(f"  naive wire-time bound      {naive_bound:8.1f} readings/s")
    print(f"  naive / its bound          {n / naive_bound:8.3f}")
    print(f"  optimum / naive bound      {optimum / naive_bound:8.3f}")
    print(f"  planner / naive (achieved) {p / n:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
