"""TCP scale: N simulated Modbus TCP devices x 30 points every 1 s, polled by ONE ModbusDriver.

The devices (one listening port each on 127.0.0.1) are served by ``edgepost simulate`` in a
separate process; the driver runs in this process. For N = 10, 100, 1000 (``--quick``: 10, 100) it
prints this process's CPU as a fraction of one core over a steady window, the missed cycles, and
the readings/s against the expected N x 30. Baseline in the same run: a bare pymodbus poller (one
client per device, one read of the same registers per second, no planner/scheduler/decoding) on the
same devices; the driver/bare CPU ratio is the agent's overhead over raw pymodbus.

    .venv/bin/python bench/bench_tcp_scale.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _common import (
    cancel_all,
    driver_tasks,
    median,
    profile_yaml,
    quiet_logs,
    scattered_points,
    start_simulator,
    stop_simulator,
)
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from agent.records import Quality, Reading, Record
from drivers.base import DriverContext
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.profiles import ProfileRegistry

POINTS = 30
PERIOD_S = 1.0


class CountingSink:
    def __init__(self) -> None:
        self.good = 0
        self.bad = 0

    async def put(self, record: Record) -> None:
        if isinstance(record, Reading):
            if record.quality is Quality.GOOD:
                self.good += 1
            else:
                self.bad += 1


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def write_setup(root: Path, devices: int) -> tuple[Path, Path]:
    profiles = root / "profiles"
    (profiles / "bench").mkdir(parents=True)
    points = scattered_points(POINTS, seed=7, max_gap=3)
    (profiles / "bench" / "tcpdev.yaml").write_text(profile_yaml("TcpDev", points, turnaround_ms=0))
    lines = [f"profiles_dir: {profiles}", "buses:"]
    for _ in range(devices):
        lines.append("  - tcp: {host: 127.0.0.1, port: 0}")
        lines.append("    devices: [{unit: 1, profile: bench/tcpdev, holes: allow, turnaround_ms: 0}]")
    spec = root / "sim.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return profiles, spec


def ports_of(serving_lines: list[str]) -> list[int]:
    # "serving tcp://127.0.0.1:40123 (socket): 1=bench/tcpdev"
    return [int(line.split("tcp://127.0.0.1:")[1].split(" ")[0]) for line in serving_lines]


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class CpuWindow:
    """CPU of this process (and, for context, of the simulator process) over a wall-clock window."""

    simulator_pid: int | None = None  # set once the simulator runs

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._sim = psutil.Process(self.simulator_pid) if self.simulator_pid else None

    def __enter__(self) -> CpuWindow:
        self._cpu, self._wall = cpu_s(self._me), time.perf_counter()
        self._sim_cpu = cpu_s(self._sim) if self._sim else 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cores = (cpu_s(self._me) - self._cpu) / self.wall_s
        self.simulator_cores = (cpu_s(self._sim) - self._sim_cpu) / self.wall_s if self._sim else 0.0


async def driver_run(ports: list[int], profiles: Path, state: Path, warmup_s: float, window_s: float
                     ) -> tuple[float, int, float, float]:
    """(CPU cores, missed cycles in the window, good readings/s in the window, simulator cores)."""
    config = ModbusDriverConfig.model_validate({
        "driver": "modbus",
        "name": "bench",
        "buses": [{"transport": "tcp", "name": f"t{k}", "host": "127.0.0.1", "port": port, "timeout_s": 1.0,
                   "retries": 0} for k, port in enumerate(ports)],
        "devices": [{"name": f"d{k}", "bus": f"t{k}", "unit_id": 1, "profile": "bench/tcpdev",
                     "period_s": PERIOD_S} for k in range(len(ports))],
        "learned_ranges_file": False,
    })
    driver = ModbusDriver(config, DriverContext("bench", state, state, logging.getLogger("bench")),
                          ProfileRegistry.load(profiles, strict=True))
    sink = CountingSink()
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        await asyncio.sleep(warmup_s)

        def missed() -> int:
            return sum(p.grid.missed_cycles for p in driver.pollers.values() if p.grid is not None)

        missed_before, good_before = missed(), sink.good
        with CpuWindow() as cpu:
            await asyncio.sleep(window_s)
        missed_in_window, good = missed() - missed_before, sink.good - good_before
        await cancel_all([task, *driver_tasks("bench")])
    return cpu.cores, missed_in_window, good / cpu.wall_s, cpu.simulator_cores


async def bare_run(ports: list[int], first: int, count: int, warmup_s: float, window_s: float
                   ) -> tuple[float, int, float]:
    """Raw pymodbus: one client per device, one read of the planned span per second."""
    clients = [AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0) for port in ports]
    for client in clients:
        await client.connect()
    counters = {"good": 0, "late": 0}

    async def poll(client: AsyncModbusTcpClient, offset: float) -> None:
        origin = time.monotonic() + offset
        cycle = 0
        while True:
            cycle += 1
            wait = origin + cycle * PERIOD_S - time.monotonic()
            if wait < 0:
                counters["late"] += 1
            else:
                await asyncio.sleep(wait)
            try:
                response = await client.read_input_registers(first, count=count, device_id=1)
                counters["good"] += 0 if response.isError() else POINTS
            except ModbusException:
                pass

    tasks = [asyncio.create_task(poll(c, PERIOD_S * k / len(clients))) for k, c in enumerate(clients)]
    try:
        await asyncio.sleep(warmup_s)
        late_before, good_before = counters["late"], counters["good"]
        with CpuWindow() as cpu:
            await asyncio.sleep(window_s)
        late, good = counters["late"] - late_before, counters["good"] - good_before
    finally:
        await cancel_all(tasks)
        for client in clients:
            client.close()
    return cpu.cores, late, good / cpu.wall_s


def progress(text: str) -> None:
    sys.stderr.write(f"  ... {text}\n")
    sys.stderr.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N up to 100, shorter windows")
    args = parser.parse_args()
    quiet_logs()
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid> dumps the stacks of a run that seems stuck
    sizes = [10, 100] if args.quick else [10, 100, 1000]
    repeats, warmup_s, window_s = (1, 3.0, 6.0) if args.quick else (2, 5.0, 15.0)
    raise_fd_limit(4 * max(sizes) + 256)  # inherited by the simulator: listeners + accepted + clients

    points = scattered_points(POINTS, seed=7, max_gap=3)
    first = min(p.address for p in points)
    span = max(p.address + p.count for p in points) - first
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        profiles, spec = write_setup(Path(tmp), max(sizes))
        simulator, serving = start_simulator(spec)
        CpuWindow.simulator_pid = simulator.pid
        try:
            ports = ports_of(serving)
            for n in sizes:
                drv, bare = [], []
                for _ in range(repeats):
                    progress(f"N={n}: driver")
                    drv.append(asyncio.run(driver_run(ports[:n], profiles, Path(tmp), warmup_s, window_s)))
                    progress(f"N={n}: bare pymodbus")
                    bare.append(asyncio.run(bare_run(ports[:n], first, span, warmup_s, window_s)))
                rows.append((n, drv, bare))
        finally:
            stop_simulator(simulator)

    print(f"tcp scale: N Modbus TCP devices x {POINTS} points every {PERIOD_S:g} s, simulator in its own "
          f"process, {repeats} x {window_s:g} s windows (medians)")
    print(f"  {'N':>5} {'driver cores':>12} {'missed':>7} {'readings/s':>11} {'expected':>9} "
          f"{'bare cores':>10} {'bare late':>9} {'driver/bare':>11} {'sim cores':>9}")
    for n, drv, bare in rows:
        d_cpu, d_missed, d_rate = median([r[0] for r in drv]), max(r[1] for r in drv), median([r[2] for r in drv])
        b_cpu, b_late = median([r[0] for r in bare]), max(r[1] for r in bare)
        ratio = d_cpu / b_cpu if b_cpu > 0 else float("nan")
        print(f"  {n:>5} {d_cpu:>12.3f} {d_missed:>7} {d_rate:>11.0f} {n * POINTS / PERIOD_S:>9.0f} "
              f"{b_cpu:>10.3f} {b_late:>9} {ratio:>11.2f} {median([r[3] for r in drv]):>9.3f}")
    print("  goal: 1000 devices at <= 0.5 core, 0 missed  (sim cores: the simulator process during the driver"
          " window; near 1.0 means the simulator, not the driver, limits the rate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
