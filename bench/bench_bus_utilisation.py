"""Bus utilisation (P1): 8 simulated devices x 30 scattered points on ONE 9600-baud RS-485 bus.

The simulator (``edgepost simulate``, a separate process) serves one end of a socat pty pair and
models the wire; the ModbusDriver (read planner + scheduler) polls from the other end as fast as the
bus allows. The devices are non-strict (they answer holes), each with its own scattered map.

The baseline is the wire-time optimum from the Modbus specs alone (``_wire.py``: request and response
bytes, 2 x 3.5 characters of silence, the turnaround, 2 bytes per register, holes read along, at most
125 registers a read; a shortest path over the cut positions, written apart from the planner and
checked against brute force in tests/unit/bench). Rows, medians over repeats:

- **default limits**: the profiles carry no ``limits:``, so the profile defaults apply (P1's row);
- **optimum limits**: ``max_hole: 124``, which lets any plan the optimum may choose through;
- **plan only**: the driver's own plan for each device costed by the spec model, no timing (exact);
- **USB adapter**: the same bus behind a USB-serial adapter (latency timer 16 ms, Linux's FTDI
  default, and 1 ms, ``low_latency``) with 2 ms of turnaround jitter; beside the wire optimum also the
  path optimum, which knows the path's mean dead time per request;
- **one request per point**: a bare pymodbus poller on the ideal line, for scale;
- **mixed line**: the same Modbus devices and DL/T 645 meters on one line, two drivers sharing its
  queue; the useful utilisation (readings x their spec-optimum wire time, per second) against 1.0
  (``_mixed_bus.py``).

    .venv/bin/python bench/bench_bus_utilisation.py [--smoke | --quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import (
    BenchPoint,
    cancel_all,
    driver_tasks,
    median,
    profile_yaml,
    quiet_logs,
    scattered_points,
    socat_pty_pair,
    spans,
    start_simulator,
    stop_simulator,
)
from _mixed_bus import meter_reading_s, meters_config, meters_spec, mixed_run, useful_utilisation
from _results import Figure, Report, add_mode_args, mode_of
from _wire import Line, one_per_point_s, optimum_s, requests_s
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusException

from agent.records import Quality, Reading, Record
from drivers.base import DriverContext
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.planner import PlanPoint, plan_reads
from drivers.modbus.profile import ReadLimits
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator.serial_path import SerialPath

POINTS = 30
BAUD = 9600
TURNAROUND_S = ReadLimits().turnaround_ms / 1000  # the profile default, which the simulator then uses
OPTIMUM_LIMITS = {"max_hole": 124}


@dataclass(frozen=True)
class LinePath:
    """The master's serial path: none (an ideal native UART) or a USB adapter with turnaround jitter."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0

    def mean_extra_s(self) -> float:
        return SerialPath(self.latency_ms, self.jitter_ms).mean_extra_s()

    def spec(self) -> str:
        return f", adapter_latency_ms: {self.latency_ms}, turnaround_jitter_ms: {self.jitter_ms}, path_seed: 1"


IDEAL = LinePath()


class TimingSink:
    """Arrival time of every good reading, per device; a cycle's readings arrive together at its end."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.bad = 0

    async def put(self, record: Record) -> None:
        if isinstance(record, Reading):
            if record.quality is Quality.GOOD:
                self.arrivals.setdefault(record.device, []).append(time.perf_counter())
            else:
                self.bad += 1


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


def write_profiles(root: Path, layouts: list[list[BenchPoint]]) -> Path:
    profiles = root / "profiles"
    for folder, limits in (("default", None), ("optimum", OPTIMUM_LIMITS)):
        (profiles / folder).mkdir(parents=True)
        for k, points in enumerate(layouts):
            (profiles / folder / f"dev{k}.yaml").write_text(profile_yaml(f"Dev{k}", points, limits))
    return profiles


def write_spec(root: Path, profiles: Path, port: str, devices: int, path: LinePath, meters: str = "") -> Path:
    units = "\n".join(f"      - {{unit: {k + 1}, profile: default/dev{k}, holes: allow}}" for k in range(devices))
    spec = root / "sim.yaml"
    spec.write_text(f"profiles_dir: {profiles}\nbuses:\n  - serial: {{port: {port}, baud: {BAUD}{path.spec()}}}\n"
                    f"    devices:\n{units}\n{meters}")
    return spec


def driver_config(master: str, folder: str, devices: int) -> ModbusDriverConfig:
    return ModbusDriverConfig.model_validate({
        "driver": "modbus",
        "name": "bench",
        "buses": [{"transport": "serial", "name": "rs485", "port": master, "baudrate": BAUD,
                   "timeout_s": 0.5, "retries": 0}],
        "devices": [{"name": f"d{k}", "bus": "rs485", "unit_id": k + 1, "profile": f"{folder}/dev{k}",
                     "period_s": 0.05} for k in range(devices)],
        "learned_ranges_file": False,
    })


async def planner_run(master: str, folder: str, devices: int, profiles: Path, state: Path,
                      warmup_s: float, window_s: float) -> tuple[float, list[tuple[int, int]], int]:
    """(readings/s, the driver's plan as (start, count) requests over all devices, bad readings)."""
    context = DriverContext("bench", state, state, logging.getLogger("bench"))
    driver = ModbusDriver(driver_config(master, folder, devices), context, ProfileRegistry.load(profiles, strict=True))
    sink = TimingSink()
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        start = time.perf_counter() + warmup_s
        await asyncio.sleep(warmup_s + window_s)
        await cancel_all([task, *driver_tasks("bench")])
        requests: list[tuple[int, int]] = []
        for poller in driver.pollers.values():
            points = [PlanPoint.of(n, p) for n, p in poller.spec.points.items()]
            plan = plan_reads(points, poller.limits, poller.illegal, poller.overhead_chars)
            requests += [(r.address, r.count) for r in plan]
    return steady_rate(sink.arrivals, start, start + window_s), requests, sink.bad


async def naive_rate(master: str, layouts: list[list[BenchPoint]], warmup_s: float, window_s: float) -> float:
    """One request per point with pymodbus, round robin over the devices."""
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
    finally:
        client.close()
    return steady_rate(arrivals, start, start + window_s)


@dataclass
class Setting:
    key: str
    title: str
    folder: str
    path: LinePath


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    args = parser.parse_args()
    mode = mode_of(args)
    quiet_logs()
    devices, repeats, warmup_s, window_s = {
        "smoke": (2, 1, 1.5, 4.0), "quick": (8, 1, 4.0, 12.0), "full": (8, 3, 4.0, 30.0)}[mode]
    settings = [Setting("default", "default limits", "default", IDEAL)]
    if mode != "smoke":
        settings += [Setting("optimum", "optimum limits (max_hole 124)", "optimum", IDEAL),
                     Setting("usb16", "USB adapter 16 ms + 2 ms jitter, default limits", "default", LinePath(16, 2)),
                     Setting("usb1", "USB adapter 1 ms + 2 ms jitter, default limits", "default", LinePath(1, 2))]
    layouts = [scattered_points(POINTS, seed=100 + k) for k in range(devices)]
    line = Line(BAUD)
    readings = devices * POINTS
    wire_optimum = readings / sum(optimum_s(spans(p), line, TURNAROUND_S)[0] for p in layouts)
    naive_bound = readings / sum(one_per_point_s(spans(p), line, TURNAROUND_S) for p in layouts)

    meters = 1 if mode == "smoke" else 2
    modbus_cost = {f"d{k}": optimum_s(spans(p), line, TURNAROUND_S)[0] / POINTS for k, p in enumerate(layouts)}
    meter_cost = meter_reading_s(line, TURNAROUND_S)

    def reading_cost(device: str) -> float:
        return meter_cost if device.startswith("meter") else modbus_cost[device]

    mixed: list[float] = []
    mixed_bad, hand_overs = 0, 0
    rates: dict[str, list[float]] = {s.key: [] for s in settings}
    plans: dict[str, list[tuple[int, int]]] = {}
    bad: dict[str, int] = {}
    naive: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        profiles = write_profiles(root, layouts)
        paths = sorted({st.path for st in settings}, key=lambda p: (p.latency_ms, p.jitter_ms))
        for _ in range(repeats):
            for path in paths:  # one simulator per serial path; the limits only matter to the master
                with socat_pty_pair() as (master, slave):
                    simulator, _ = start_simulator(write_spec(root, profiles, slave, devices, path))
                    try:
                        for st in (st for st in settings if st.path == path):
                            rate, plan, bad_count = asyncio.run(
                                planner_run(master, st.folder, devices, profiles, root, warmup_s, window_s))
                            rates[st.key].append(rate)
                            plans[st.key], bad[st.key] = plan, bad.get(st.key, 0) + bad_count
                        if path == IDEAL and mode != "smoke":
                            naive.append(asyncio.run(naive_rate(master, layouts, warmup_s, window_s)))
                    finally:
                        stop_simulator(simulator)
            with socat_pty_pair() as (master, slave):
                spec = write_spec(root, profiles, slave, devices, IDEAL, meters_spec(meters, TURNAROUND_S * 1000))
                simulator, _ = start_simulator(spec)
                try:
                    sink = TimingSink()
                    start, hand_overs = asyncio.run(mixed_run(
                        driver_config(master, "default", devices), meters_config(master, meters, BAUD), profiles,
                        root, sink, warmup_s, window_s))
                    device_rates = {d: steady_rate({d: t}, start, start + window_s) for d, t in sink.arrivals.items()}
                    mixed.append(useful_utilisation(device_rates, reading_cost))
                    mixed_bad += sink.bad
                finally:
                    stop_simulator(simulator)

    report = Report("bench_bus_utilisation", mode, params={
        "devices": devices, "points": POINTS, "baud": BAUD, "turnaround_ms": TURNAROUND_S * 1000,
        "repeats": repeats, "window_s": window_s})
    print(f"bus utilisation: {devices} devices x {POINTS} scattered points, one {BAUD}-baud bus, turnaround "
          f"{TURNAROUND_S * 1000:g} ms, {repeats} x {window_s:g} s ({mode})")
    print(f"  wire optimum (spec DP)          {wire_optimum:8.1f} readings/s")
    goal = ">= 0.95 of the wire optimum"
    for s in settings:
        value = median(rates[s.key])
        extra = s.path.mean_extra_s()
        path_opt = readings / sum(optimum_s(spans(p), line, TURNAROUND_S, extra_s=extra)[0] for p in layouts)
        ideal = s.path == IDEAL
        fig = report.add(Figure(
            id=f"bus.{s.key}", title=f"readings/s, {s.title}", value=value, unit="readings/s",
            baseline=wire_optimum, baseline_title="wire optimum (spec DP)", goal=goal if ideal else None,
            goal_id="P1" if s.key == "default" else None,
            goal_met=value / wire_optimum >= 0.95 if ideal and devices == 8 else None, runs=rates[s.key],
            floor=0.85 if s.key == "default" else None,
            note=None if ideal else f"path optimum (mean dead time {extra * 1e3:.1f} ms a request) "
            f"{path_opt:.1f}/s: {value / path_opt:.3f} of it"))
        print(f"  planner, {s.title:48s} {value:8.1f} readings/s  = {fig.ratio:.3f} of the wire optimum"
              + ("" if ideal else f", {value / path_opt:.3f} of the path optimum {path_opt:.1f}/s")
              + f"   runs: {', '.join(f'{v:.1f}' for v in rates[s.key])}"
              + (f"   BAD readings: {bad[s.key]}" if bad[s.key] else ""))
        if not ideal:
            report.add(Figure(
                id=f"bus.{s.key}.path", title=f"readings/s, {s.title}, against the path optimum", value=value,
                unit="readings/s", baseline=path_opt, baseline_title="path optimum (spec DP + mean dead time)"))
    for key in (k for k in ("default", "optimum") if k in plans):
        plan_s = requests_s(plans[key], line, TURNAROUND_S)
        plan_rate = readings / plan_s
        report.add(Figure(
            id=f"bus.plan.{key}", title=f"plan only, {key} limits: readings/s its plan allows on the wire",
            value=plan_rate, unit="readings/s", baseline=wire_optimum, baseline_title="wire optimum (spec DP)",
            floor=0.95 if key == "default" else None,
            note=f"{len(plans[key])} requests for {devices} devices"))
        print(f"  plan only, {key} limits: {len(plans[key])} requests, {plan_rate:.1f} readings/s on the wire "
              f"= {plan_rate / wire_optimum:.4f} of the optimum")
    if naive:
        n = median(naive)
        report.add(Figure(
            id="bus.naive", title="readings/s, one pymodbus request per point", value=n, unit="readings/s",
            baseline=naive_bound, baseline_title="its wire bound (spec)", runs=naive))
        report.add(Figure(
            id="bus.planner_vs_naive", title="planner (default limits) over one request per point",
            value=median(rates["default"]), unit="readings/s", baseline=n,
            baseline_title="one pymodbus request per point"))
        print(f"  one pymodbus request per point  {n:8.1f} readings/s  (its wire bound {naive_bound:.1f}/s); "
              f"planner/naive {median(rates['default']) / n:.2f}x")
    if mixed:
        value = median(mixed)
        alone = median(rates["default"]) / wire_optimum
        report.add(Figure(
            id="bus.mixed", title=f"useful line utilisation, {devices} Modbus devices + {meters} DL/T 645 meters "
            "on one line (two drivers, one queue)", value=value, unit="s/s", baseline=1.0,
            baseline_title="the line carrying useful frames all the time", runs=mixed,
            note=f"Modbus alone on the line: {alone:.3f}; {hand_overs} hand-overs between the masters in the last run"
            + (f"; BAD readings: {mixed_bad}" if mixed_bad else "")))
        print(f"  mixed line, {devices} Modbus + {meters} DL/T 645: useful utilisation {value:.3f} of the line "
              f"(Modbus alone {alone:.3f})   runs: {', '.join(f'{v:.3f}' for v in mixed)}"
              + (f"   BAD readings: {mixed_bad}" if mixed_bad else ""))
    p1 = report.figures[0].goal_met
    print(f"  goal P1: default limits >= 0.95 of the wire optimum: "
          f"{'judged on 8 devices' if p1 is None else 'MET' if p1 else 'NOT met'}")
    report.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
