"""Shared helpers for the Modbus benches: synthetic scattered profiles, the simulator as a separate
process, and small statistics. (The wire-time optimum lives in ``_wire.py``, apart from the driver.)"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the tests.fixtures helpers are not part of the installed package
    sys.path.insert(0, str(ROOT))

from tests.fixtures.serial import socat_pty_pair  # noqa: E402

__all__ = ["socat_pty_pair"]

TYPES = [("uint16", 1), ("int16", 1), ("float32", 2), ("uint32", 2), ("int32", 2)]


@dataclass(frozen=True)
class BenchPoint:
    name: str
    address: int
    count: int
    type: str


def scattered_points(count: int, seed: int, max_gap: int = 12) -> list[BenchPoint]:
    """``count`` input-register points with random types and random gaps (0..max_gap) between them."""
    rng = random.Random(seed)
    points: list[BenchPoint] = []
    address = rng.randrange(0, 20)
    for index in range(count):
        type_name, width = rng.choice(TYPES)
        points.append(BenchPoint(f"p{index:02d}", address, width, type_name))
        gap = 0 if rng.random() < 0.3 else rng.randint(1, max_gap)
        address += width + gap
    return points


def profile_yaml(model: str, points: list[BenchPoint], limits: dict[str, float] | None = None) -> str:
    """A synthetic profile; ``limits`` None leaves the profile's default read limits in force."""
    lines = ["vendor: Bench", f"model: {model}", "source: synthetic benchmark device"]
    if limits:
        lines.append("limits: {" + ", ".join(f"{k}: {v}" for k, v in limits.items()) + "}")
    lines.append("points:")
    lines += [f"  {p.name}: {{table: input, address: {p.address}, type: {p.type}}}" for p in points]
    return "\n".join(lines) + "\n"


def spans(points: list[BenchPoint]) -> list[tuple[int, int]]:
    return [(p.address, p.count) for p in points]


def start_simulator(spec: Path, timeout_s: float = 120.0) -> tuple[subprocess.Popen[str], list[str]]:
    """``edgepost simulate --spec`` in its own process; returns it and its 'serving ...' lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli.main", "simulate", "--spec", str(spec)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while True:
        line = proc.stdout.readline()
        if not line:
            _, err = proc.communicate(timeout=timeout_s)
            raise RuntimeError(f"simulator exited (rc={proc.returncode}): {err.strip()}")
        if line.strip() == "ready":
            return proc, lines
        lines.append(line.strip())


def stop_simulator(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None and proc.stdin is not None:
        try:
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            proc.wait(timeout=15)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            proc.kill()
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=15)


def driver_tasks(driver_name: str) -> list[asyncio.Task[None]]:
    """The ModbusDriver's own poller tasks (named ``modbus[<driver>].<device>``)."""
    prefix = f"modbus[{driver_name}]"
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(prefix)]


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel until done. On Python 3.11 ``asyncio.wait_for`` (in pymodbus and in the driver's
    transport) can swallow a cancellation that lands just after a response arrived; the polling loop
    then carries on and a TaskGroup never cancels it again. So cancel every task, repeatedly."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)


def median(values: list[float]) -> float:
    return statistics.median(values)


def quiet_logs() -> None:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
