"""Resident memory of the agent process with two cameras running, against the same process idle.

    .venv/bin/python bench/bench_camera_memory.py [--smoke | --quick] [--convs 3] [--json out.json]

Two cameras play looping 1280x720 MJPG files (decoded and resized to 640x360, 10 fps), motion
gated, sharing one ONNX blob-detector session (``--convs`` dead-weight convolutions), with a zone
and a line each. baseline: RSS of this process after importing the camera driver (OpenCV, numpy,
onnxruntime) and before opening any camera. measured: peak RSS sampled every 100 ms while both
cameras run. Goal: <= 250 MB. Medians over repeats (fresh processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.records import Record  # noqa: E402
from drivers.base import DriverContext  # noqa: E402
from drivers.camera.config import CameraDriverConfig  # noqa: E402
from drivers.camera.driver import CameraDriver  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _results import Figure, Report, add_mode_args, mode_of  # noqa: E402

SRC_W, SRC_H, FPS = 1280, 720, 10.0
GOAL_MB = 250.0


def write_traffic(path: Path, seconds: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    street = cv2.GaussianBlur(rng.integers(20, 90, (SRC_H, SRC_W, 3), dtype=np.uint8), (7, 7), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SRC_W, SRC_H))
    frames = round(seconds * FPS)
    for i in range(frames):
        frame = street.copy()
        x = int(i / frames * (SRC_W - 200))
        cv2.rectangle(frame, (x, 400), (x + 200, 520), (60, 60, 255), -1)
        writer.write(frame)
    writer.release()
    return path


class NullSink:
    def __init__(self) -> None:
        self.records = 0

    async def put(self, record: Record) -> None:
        self.records += 1


def camera(name: str, video: Path, models: Path) -> dict[str, object]:
    return {
        "name": name,
        "source": str(video),
        "loop": True,
        "width": 640,
        "height": 360,
        "detect_fps": FPS,
        "inference": {"model": "blob", "models_dir": str(models), "intra_op_threads": 1},
        "zones": [{"name": "road", "polygon": [[0, 0.5], [1, 0.5], [1, 0.8], [0, 0.8]], "dwell_alarm_s": 30}],
        "lines": [{"name": "gate", "points": [[0.5, 1.0], [0.5, 0.0]]}],
        "aggregate_period_s": 5,
    }


async def run(models: Path, videos: list[Path], seconds: float) -> dict[str, float]:
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.1):
            peak = max(peak, process.memory_info().rss)

    config = CameraDriverConfig.model_validate(
        {"name": "bench", "driver": "camera", "cameras": [camera(f"cam{i}", v, models) for i, v in enumerate(videos)]}
    )
    driver = CameraDriver(config, DriverContext("bench", models, models, logging.getLogger("bench")))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sink = NullSink()
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        await asyncio.sleep(seconds)
        frames = sum(int(w.status()["frames"]) for w in driver.workers.values())  # type: ignore[call-overload]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    stop.set()
    sampler.join()
    return {"baseline_mb": baseline / 2**20, "peak_mb": peak / 2**20, "frames": frames, "records": sink.records}


def child(seconds: float, tmp: Path) -> None:
    """The measured process: it never imports onnx (the model builder runs in the parent)."""
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(run(tmp / "models", [tmp / f"cam{i}.avi" for i in range(2)], seconds))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    parser.add_argument("--convs", type=int, default=3)
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.dir)
        return
    from tests.integration.camera.blob_model import write_blob_model

    mode = mode_of(args)
    repeats, seconds = {"smoke": (1, 3.0), "quick": (1, 6.0), "full": (3, 20.0)}[mode]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        write_blob_model(Path(tmp) / "models", "blob", 320, 192, args.convs, 16)
        for i in range(2):
            write_traffic(Path(tmp) / f"cam{i}.avi", 4.0, i)
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(seconds), "--dir", tmp],
                capture_output=True, text=True, check=True,
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = statistics.median(r["baseline_mb"] for r in results)
    peak = statistics.median(r["peak_mb"] for r in results)
    frames = statistics.median(r["frames"] for r in results)
    print(f"repeats: {repeats} fresh processes x {seconds:g} s, two cameras {SRC_W}x{SRC_H} -> 640x360 at "
          f"{FPS:g} fps, one shared model ({frames:.0f} frames decoded per run)")
    print(f"baseline  RSS with the camera driver imported, no camera open: {base:7.1f} MB")
    print(f"measured  peak RSS with two cameras running:                  {peak:7.1f} MB")
    print(f"ratio: {peak / base:.2f}x   two cameras add {peak - base:.1f} MB   "
          f"(goal <= {GOAL_MB:g} MB: {'met' if peak <= GOAL_MB else 'NOT met'})")
    report = Report("bench_camera_memory", mode, params={"repeats": repeats, "seconds": seconds})
    report.add(Figure(
        id="camera.memory", title="peak RSS, two 720p cameras sharing one model", value=peak, unit="MB",
        baseline=base, baseline_title="camera driver imported, no camera open", better="lower",
        goal=f"<= {GOAL_MB:g} MB", goal_met=peak <= GOAL_MB, floor=2.0, note=f"{frames:.0f} frames decoded a run"))
    report.write(args.json)


if __name__ == "__main__":
    main()
