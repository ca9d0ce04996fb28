"""Import cost of cameras: RSS of a sensor-only agent vs one that also loads the camera driver.

    .venv/bin/python bench/bench_camera_import.py [--smoke | --quick] [--json out.json]

baseline (sensor-only): a fresh interpreter that validates a Modbus-only agent config (which
imports every registered driver's config model, the camera one included) and imports the Modbus
driver. It must not load cv2, numpy or onnxruntime. Goal: <= 60 MB RSS.
measured: the same plus a camera in the config and ``import drivers.camera.driver`` (OpenCV,
numpy, onnxruntime). Medians over repeats of fresh processes; prints both and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from _results import Figure, Report, add_mode_args, mode_of

ROOT = Path(__file__).resolve().parents[1]
GOAL_SENSOR_ONLY_MB = 60.0

MODBUS = """
  - name: field
    driver: modbus
    buses: [{name: rs485, transport: tcp, host: 127.0.0.1, port: 1502}]
    devices: [{name: meter1, bus: rs485, unit_id: 1, profile: eastron/sdm120}]
"""
CAMERA = """
  - name: cams
    driver: camera
    cameras: [{name: pole1, source: "rtsp://127.0.0.1:8554/cam"}]
"""

CHILD = r"""
import json, sys
import psutil
from agent.config import parse_config
import drivers.modbus.driver
config = parse_config(sys.argv[1], "bench.yaml")
if sys.argv[2] == "camera":
    import drivers.camera.driver
heavy = sorted(m for m in ("cv2", "numpy", "onnxruntime") if m in sys.modules)
rss = psutil.Process().memory_info().rss
print(json.dumps({"rss_mb": rss / 2**20, "heavy": heavy, "drivers": [d.driver for d in config.drivers]}))
"""


def measure(kind: str) -> dict[str, object]:
    text = "gateway: {id: bench}\ndrivers:" + MODBUS + (CAMERA if kind == "camera" else "")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, text, kind], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    mode = mode_of(args)
    repeats = args.repeats or {"smoke": 1, "quick": 3, "full": 7}[mode]
    sensor: list[float] = []
    camera: list[float] = []
    for _ in range(repeats):  # interleaved so machine load hits both alike
        base = measure("sensor")
        full = measure("camera")
        if base["heavy"]:
            sys.exit(f"FAIL: the sensor-only agent imported {base['heavy']}")
        sensor.append(float(base["rss_mb"]))  # type: ignore[arg-type]
        camera.append(float(full["rss_mb"]))  # type: ignore[arg-type]
        heavy_camera = full["heavy"]
    s, c = statistics.median(sensor), statistics.median(camera)
    print(f"repeats: {repeats} fresh processes each")
    print(f"baseline  sensor-only agent RSS (config + modbus driver): {s:7.1f} MB  (goal <= {GOAL_SENSOR_ONLY_MB} MB)")
    print(f"measured  agent with camera driver imported ({', '.join(heavy_camera)}): {c:7.1f} MB")  # type: ignore[arg-type]
    print(f"ratio camera/sensor-only: {c / s:.2f}x   camera import cost: {c - s:.1f} MB")
    print(f"sensor-only goal: {'met' if s <= GOAL_SENSOR_ONLY_MB else 'NOT met'}")
    report = Report("bench_camera_import", mode, params={"repeats": repeats})
    report.add(Figure(
        id="import.camera", title="RSS with the camera driver imported (OpenCV, numpy, onnxruntime)", value=c,
        unit="MB", baseline=s, baseline_title="sensor-only: config + Modbus driver imported", better="lower",
        floor=2.5, runs=camera))
    report.add(Figure(
        id="import.sensor_only", title="RSS of a sensor-only interpreter (config + Modbus driver imported)", value=s,
        unit="MB", goal=f"<= {GOAL_SENSOR_ONLY_MB:g} MB", goal_met=s <= GOAL_SENSOR_ONLY_MB, better="lower",
        runs=sensor, note="imports only; the running agent is bench_agent_rss (P7)"))
    report.write(args.json)


if __name__ == "__main__":
    main()
