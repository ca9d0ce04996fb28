"""Memory of a running sensor-only agent (P7): RSS of ``edgepost run`` with 8 devices, uplink, outbox.

Eight shipped-profile devices (energy meters, a tilt sensor, a weather station, probes, a water meter)
on one simulated 38400-baud RS-485 line (``edgepost simulate`` on a socat pty, its own process),
polled every second; the outbox at power-safe; the uplink to a real mosquitto. Measured on the agent
process with psutil:

- **RSS** in steady state: the median of samples over a window after the warm-up;
- **growth**: a least-squares line through RSS samples every 10 s over a soak (1 h in the full run,
  the goal's definition; ``--soak-s`` or ``BENCH_SOAK_S`` to change it), in MB per hour. Not in the
  smoke run.

baseline (same run): a fresh interpreter that loads the same config and imports the Modbus driver,
uplink and outbox and does nothing (the import cost); the ratio is what running adds.

    .venv/bin/python bench/bench_agent_rss.py [--smoke | --quick] [--soak-s S] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _agent import agent_config, running_agent
from _common import ROOT, quiet_logs, socat_pty_pair, start_simulator, stop_simulator
from _results import Figure, Report, add_mode_args, mode_of

from tests.fixtures.mosquitto import Mosquitto

GOAL_RSS_MB = 45.0
GOAL_GROWTH_MB_H = 1.0
BAUD = 38400
DEVICES = [  # (unit, profile)
    (1, "eastron/sdm120"), (2, "eastron/sdm120"), (3, "eastron/sdm630-v2"), (4, "witmotion/wt901c-485"),
    (5, "renke/rs-fsxcs-n01"), (6, "yosemitech/y532"), (7, "keller/series30"), (8, "oem/tuf-2000m"),
]

IMPORT_ONLY = r"""
import json, sys
import psutil
from agent.config import load_config
import agent.daemon, agent.outbox.store, agent.uplink.uplink, drivers.modbus.driver
load_config(__import__("pathlib").Path(sys.argv[1]))
heavy = sorted(m for m in ("cv2", "numpy", "onnxruntime") if m in sys.modules)
print(json.dumps({"rss": psutil.Process().memory_info().rss, "heavy": heavy}))
"""


def drivers_yaml(port: str) -> str:
    lines = ["  - driver: modbus", "    name: rs485", "    buses:",
             f"      - {{name: bus1, transport: serial, port: {port}, baudrate: {BAUD}, timeout_s: 0.3}}",
             "    devices:"]
    lines += [f"      - {{name: dev{u}, bus: bus1, unit_id: {u}, profile: {p}, period_s: 1}}" for u, p in DEVICES]
    return "\n".join(lines) + "\n"


def sim_spec(root: Path, port: str) -> Path:
    spec = root / "sim.yaml"
    units = "\n".join(f"      - {{unit: {u}, profile: {p}}}" for u, p in DEVICES)
    spec.write_text(f"buses:\n  - serial: {{port: {port}, baud: {BAUD}}}\n    devices:\n{units}\n")
    return spec


def import_only_mb(config: Path) -> float:
    out = subprocess.run([sys.executable, "-c", IMPORT_ONLY, str(config)], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if data["heavy"]:
        raise RuntimeError(f"a sensor-only agent imported {data['heavy']}")
    return float(data["rss"]) / 2**20


def slope_mb_per_h(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per hour."""
    if len(samples) < 3:
        return float("nan")
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600 if var else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    parser.add_argument("--soak-s", type=float, default=None, help="soak length (full run: 3600)")
    args = parser.parse_args()
    mode = mode_of(args)
    quiet_logs()
    warmup_s, window_s, soak_s = {"smoke": (4.0, 2.0, 0.0), "quick": (20.0, 10.0, 120.0),
                                  "full": (60.0, 30.0, 3600.0)}[mode]
    if args.soak_s is not None:
        soak_s = args.soak_s
    elif os.environ.get("BENCH_SOAK_S") and mode != "smoke":  # e.g. BENCH_SOAK_S=600 make bench
        soak_s = float(os.environ["BENCH_SOAK_S"])
    with tempfile.TemporaryDirectory() as tmp, socat_pty_pair() as (agent_port, sim_port):
        root = Path(tmp)
        simulator, _ = start_simulator(sim_spec(root, sim_port))
        try:
            with Mosquitto(root / "mqtt") as broker:
                config = agent_config(root, drivers_yaml(agent_port), broker.port)
                baseline = statistics.median(import_only_mb(config) for _ in range(1 if mode == "smoke" else 3))
                with running_agent(config, root) as agent:
                    time.sleep(warmup_s)
                    samples = []
                    end = time.monotonic() + window_s
                    while time.monotonic() < end:
                        samples.append(agent.rss_bytes() / 2**20)
                        time.sleep(0.5)
                    rss = statistics.median(samples)
                    uss = agent.uss_bytes() / 2**20
                    status = agent.status()
                    soak: list[tuple[float, float]] = []
                    start = time.monotonic()
                    while time.monotonic() - start < soak_s:
                        soak.append((time.monotonic() - start, agent.rss_bytes() / 2**20))
                        time.sleep(10.0)
                        if not agent.alive():
                            raise RuntimeError("the agent died during the soak")
                    readings = status.get("pipeline", {}).get("received", 0)
        finally:
            stop_simulator(simulator)

    devices = status.get("drivers", {}).get("rs485", {}).get("devices", {})
    online = sum(1 for d in devices.values() if d.get("state") == "online")
    print(f"sensor-only agent: {len(DEVICES)} devices ({online} online), {BAUD} baud, uplink + power-safe outbox "
          f"({mode}); {readings} readings received at the status")
    print(f"  RSS steady state {rss:.1f} MiB (USS {uss:.1f}); import-only baseline {baseline:.1f} MiB "
          f"(ratio {rss / baseline:.2f}); goal <= {GOAL_RSS_MB:g} MB: {'MET' if rss <= GOAL_RSS_MB else 'NOT met'}")
    report = Report("bench_agent_rss", mode, params={"devices": len(DEVICES), "baud": BAUD, "warmup_s": warmup_s,
                                                       "soak_s": soak_s})
    report.add(Figure(
        id="rss.running", title=f"RSS of a running sensor-only agent ({len(DEVICES)} devices, uplink, outbox)",
        value=rss, unit="MiB", baseline=baseline, baseline_title="the same config and modules imported, idle",
        better="lower", goal=f"<= {GOAL_RSS_MB:g} MB", goal_id="P7", goal_met=rss <= GOAL_RSS_MB, floor=1.6,
        note=f"USS {uss:.1f} MiB; {online} of {len(DEVICES)} devices online"))
    if soak:
        growth = slope_mb_per_h(soak)
        first, last = soak[0][1], soak[-1][1]
        print(f"  soak {soak_s / 60:.0f} min: RSS {first:.1f} -> {last:.1f} MiB, fitted growth {growth:+.2f} MiB/h "
              f"(goal < {GOAL_GROWTH_MB_H:g})")
        report.add(Figure(
            id="rss.growth", title=f"RSS growth over a {soak_s / 60:.0f} min soak (least squares)", value=growth,
            unit="MiB/h", better="lower", goal=f"< {GOAL_GROWTH_MB_H:g} MB/h over 1 h", goal_id="P7",
            goal_met=growth < GOAL_GROWTH_MB_H if soak_s >= 3600 else None,
            note=f"{first:.1f} -> {last:.1f} MiB" + ("" if soak_s >= 3600 else "; shorter than the goal's hour")))
    report.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
