"""TCP scale (P2): N simulated Modbus TCP devices x 30 points every 1 s, driver alone and end to end.

The devices (one listening port each on 127.0.0.1) are served by ``edgepost simulate`` in a separate
process. Two rows per size, each beside a baseline measured in the same run on the same devices:

- **driver alone**: one ModbusDriver in this process, its sink only counts; the CPU of this process
  over a steady window, missed cycles, readings/s. Baseline: a bare pymodbus poller (one client per
  device, one read of the same span a second; no planner, scheduler, decoding or records).
- **end to end** (the largest size): the real ``edgepost run`` as a subprocess with a config of N TCP
  devices: pipeline, outbox at power-safe (the default), uplink to a real mosquitto. The agent
  process's CPU (psutil, every thread), missed cycles (its status), and the records that reach the
  broker per second (a QoS 1 subscriber here counts them). Baseline: the same bare pymodbus poller.

The simulator's and the broker's CPU are printed too: near 1 core, they and not the agent set the pace.

    .venv/bin/python bench/bench_tcp_scale.py [--smoke | --quick] [--json out.json]
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
from _agent import RecordCounter, agent_config, child_named, find_sum, running_agent
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
from _results import Figure, Report, add_mode_args, mode_of
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from agent.records import Quality, Reading, Record
from drivers.base import DriverContext
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.profiles import ProfileRegistry
from tests.fixtures.mosquitto import Mosquitto

POINTS = 30
PERIOD_S = 1.0
GOAL_CORES = 0.5
GOAL_DRIVER_RATIO = 1.5


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
    (profiles / "bench" / "tcpdev.yaml").write_text(profile_yaml("TcpDev", points, {"turnaround_ms": 0}))
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
    """CPU of this process (and, for context, of other processes) over a wall-clock window."""

    others: dict[str, int] = {}  # name -> pid, e.g. the simulator

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._others = {name: psutil.Process(pid) for name, pid in self.others.items()}

    def __enter__(self) -> CpuWindow:
        self._cpu, self._wall = cpu_s(self._me), time.perf_counter()
        self._other_cpu = {name: cpu_s(p) for name, p in self._others.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cores = (cpu_s(self._me) - self._cpu) / self.wall_s
        self.other_cores = {n: (cpu_s(p) - self._other_cpu[n]) / self.wall_s for n, p in self._others.items()}


def tcp_drivers_yaml(ports: list[int]) -> str:
    lines = ["  - driver: modbus", "    name: bench", "    buses:"]
    lines += [f"      - {{name: t{k}, transport: tcp, host: 127.0.0.1, port: {p}, timeout_s: 1.0, retries: 0}}"
              for k, p in enumerate(ports)]
    lines.append("    devices:")
    lines += [f"      - {{name: d{k}, bus: t{k}, unit_id: 1, profile: bench/tcpdev, period_s: {PERIOD_S}}}"
              for k in range(len(ports))]
    return "\n".join(lines) + "\n"


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
    return cpu.cores, missed_in_window, good / cpu.wall_s, cpu.other_cores.get("simulator", 0.0)


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


def end_to_end(ports: list[int], profiles: Path, root: Path, simulator_pid: int, warmup_s: float,
               window_s: float) -> dict[str, float]:
    """The real agent against the simulator and a real mosquitto."""
    work = root / "e2e"
    work.mkdir()
    with Mosquitto(work) as broker:
        counter = RecordCounter(broker.port)
        config = agent_config(work, tcp_drivers_yaml(ports), broker.port)
        try:
            with running_agent(config, work, env={"EDGEPOST_PROFILE_DIR": str(profiles)}) as agent:
                time.sleep(warmup_s)
                others = {"simulator": psutil.Process(simulator_pid), "mosquitto": child_named("mosquitto")}
                missed0 = find_sum(agent.status(), "missed_cycles")
                cpu0, wall0, delivered0 = agent.cpu_s(), time.perf_counter(), counter.snapshot()[0]
                other0 = {n: cpu_s(p) for n, p in others.items()}
                time.sleep(window_s)
                cpu1, wall1, delivered1 = agent.cpu_s(), time.perf_counter(), counter.snapshot()[0]
                other1 = {n: cpu_s(p) for n, p in others.items()}
                status = agent.status()
                wall = wall1 - wall0
                return {
                    "cores": (cpu1 - cpu0) / wall,
                    "missed": find_sum(status, "missed_cycles") - missed0,
                    "delivered_per_s": (delivered1 - delivered0) / wall,
                    "rss_mb": agent.rss_bytes() / 2**20,
                    "simulator_cores": (other1["simulator"] - other0["simulator"]) / wall,
                    "mosquitto_cores": (other1["mosquitto"] - other0["mosquitto"]) / wall,
                    "queued": find_sum(status.get("pipeline", {}), "queued"),
                }
        finally:
            counter.close()


def progress(text: str) -> None:
    sys.stderr.write(f"  ... {text}\n")
    sys.stderr.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    args = parser.parse_args()
    mode = mode_of(args)
    quiet_logs()
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid> dumps the stacks of a run that seems stuck
    sizes, repeats, warmup_s, window_s = {
        "smoke": ([50], 1, 1.5, 2.5), "quick": ([10, 100], 1, 3.0, 6.0), "full": ([10, 100, 1000], 2, 5.0, 15.0)}[mode]
    e2e_size = max(sizes)
    raise_fd_limit(4 * max(sizes) + 256)  # inherited by the simulator and the agent

    points = scattered_points(POINTS, seed=7, max_gap=3)
    first = min(p.address for p in points)
    span = max(p.address + p.count for p in points) - first
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        profiles, spec = write_setup(Path(tmp), max(sizes))
        simulator, serving = start_simulator(spec)
        CpuWindow.others = {"simulator": simulator.pid}
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
            progress(f"N={e2e_size}: end to end (edgepost run, mosquitto)")
            e2e = end_to_end(ports[:e2e_size], profiles, Path(tmp), simulator.pid, 2 * warmup_s, 2 * window_s)
        finally:
            stop_simulator(simulator)

    report = Report("bench_tcp_scale", mode, params={"sizes": sizes, "points": POINTS, "period_s": PERIOD_S,
                                                       "repeats": repeats, "window_s": window_s})
    print(f"tcp scale: N Modbus TCP devices x {POINTS} points every {PERIOD_S:g} s, simulator in its own "
          f"process, {repeats} x {window_s:g} s windows (medians) ({mode})")
    print(f"  {'N':>5} {'driver cores':>12} {'missed':>7} {'readings/s':>11} {'expected':>9} "
          f"{'bare cores':>10} {'bare late':>9} {'driver/bare':>11} {'sim cores':>9}")
    bare_at_e2e = 0.0
    for n, drv, bare in rows:
        d_cpu, d_missed, d_rate = median([r[0] for r in drv]), max(r[1] for r in drv), median([r[2] for r in drv])
        b_cpu, b_late = median([r[0] for r in bare]), max(r[1] for r in bare)
        ratio = d_cpu / b_cpu if b_cpu > 0 else float("nan")
        if n == e2e_size:
            bare_at_e2e = b_cpu
        print(f"  {n:>5} {d_cpu:>12.3f} {d_missed:>7} {d_rate:>11.0f} {n * POINTS / PERIOD_S:>9.0f} "
              f"{b_cpu:>10.3f} {b_late:>9} {ratio:>11.2f} {median([r[3] for r in drv]):>9.3f}")
        top = n == max(sizes)
        judged = top and n == 1000  # the goal's size
        report.add(Figure(
            id=f"tcp.driver.{n}", title=f"driver alone, {n} devices: CPU", value=d_cpu, unit="cores",
            baseline=b_cpu, baseline_title="bare pymodbus polling loop", better="lower",
            goal=f"<= {GOAL_DRIVER_RATIO}x the bare loop (1,000 devices)" if top else None,
            goal_id="P2" if top else None,
            goal_met=ratio <= GOAL_DRIVER_RATIO if judged else None, runs=[r[0] for r in drv],
            floor=3.0 if top else None,
            note=f"{d_missed} missed cycles, {d_rate:,.0f} readings/s of {n * POINTS / PERIOD_S:,.0f}"))
    ok = e2e["missed"] == 0 and e2e["cores"] <= GOAL_CORES
    print(f"  end to end, N={e2e_size}: agent {e2e['cores']:.3f} cores, {e2e['missed']:.0f} missed cycles, "
          f"{e2e['delivered_per_s']:,.0f} records/s at the broker (expected {e2e_size * POINTS / PERIOD_S:,.0f}), "
          f"RSS {e2e['rss_mb']:.0f} MiB, pipeline queue {e2e['queued']:.0f}; simulator {e2e['simulator_cores']:.2f}, "
          f"mosquitto {e2e['mosquitto_cores']:.2f} cores; agent/bare loop {e2e['cores'] / bare_at_e2e:.2f}x")
    report.add(Figure(
        id=f"tcp.e2e.{e2e_size}", title=f"whole agent end to end, {e2e_size} devices: CPU", value=e2e["cores"],
        unit="cores", baseline=bare_at_e2e, baseline_title="bare pymodbus polling loop", better="lower",
        goal=f"<= {GOAL_CORES} core, 0 missed cycles (1,000 devices)", goal_id="P2",
        goal_met=ok if e2e_size == 1000 else None, floor=8.0,
        note=f"{e2e['missed']:.0f} missed cycles; {e2e['delivered_per_s']:,.0f} records/s reached mosquitto of "
             f"{e2e_size * POINTS / PERIOD_S:,.0f}; simulator {e2e['simulator_cores']:.2f} cores, mosquitto "
             f"{e2e['mosquitto_cores']:.2f}"))
    if e2e_size == 1000:
        print(f"  goals P2: agent <= {GOAL_CORES} core with 0 missed: {'MET' if ok else 'NOT met'}; driver alone "
              f"<= {GOAL_DRIVER_RATIO}x bare: {'MET' if report.figures[len(rows) - 1].goal_met else 'NOT met'}")
    else:
        print("  goals P2 are judged at 1,000 devices (the full run)")
    report.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
