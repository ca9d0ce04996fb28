"""Frame -> event latency of the camera driver against the bare model time, in one run.

    .venv/bin/python bench/bench_camera_latency.py [--smoke | --quick] [--convs 3] [--threads 1] [--json out.json]

A real MJPG file (640x360, 10 fps) shows a red box jumping across a counting line on every frame;
the camera driver reads it through its capture thread, motion-gates it, runs the ONNX blob
detector (with ``--convs`` dead-weight convolutions so the model costs about what a small
detector does) through the inference SessionPool, tracks it and emits one ``line_crossing``
event per frame. measured: time from "frame decoded" to "event handed to the sink".
baseline: the bare onnxruntime ``session.run`` on the same model and an already-prepared input
tensor, measured right before and right after each driver run. Goal: latency <= model time + 20 ms.
Medians over repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.records import Record  # noqa: E402
from drivers.base import DriverContext  # noqa: E402
from drivers.camera.config import CameraDriverConfig  # noqa: E402
from drivers.camera.driver import CameraDriver  # noqa: E402
from drivers.camera.inference.manifest import load_manifest  # noqa: E402
from drivers.camera.inference.preprocess import preprocess  # noqa: E402
from tests.integration.camera.blob_model import write_blob_model  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _results import Figure, Report, add_mode_args, mode_of  # noqa: E402

W, H, FPS = 640, 360, 10.0
GOAL_OVERHEAD_MS = 20.0


def oscillating_frame(index: int) -> np.ndarray:
    frame = np.full((H, W, 3), 40, np.uint8)
    cx = int(W * (0.4 if index % 2 == 0 else 0.6))
    cv2.rectangle(frame, (cx - 40, H // 2 - 30), (cx + 40, H // 2 + 30), (0, 0, 255), -1)
    return frame


def write_video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    for i in range(frames):
        writer.write(oscillating_frame(i))
    writer.release()
    return path


def model_time_ms(model_folder: Path, threads: int, runs: int) -> float:
    loaded = load_manifest(model_folder / "manifest.yaml")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_folder / "blob.onnx"), options, providers=["CPUExecutionProvider"])
    tensor, _ = preprocess(oscillating_frame(0), loaded.manifest.input)
    batch = tensor[np.newaxis]
    name = session.get_inputs()[0].name
    session.run(None, {name: batch})
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, {name: batch})
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class LatencySink:
    def __init__(self) -> None:
        self.driver: CameraDriver | None = None
        self.latencies: list[float] = []
        self.ended = asyncio.Event()

    async def put(self, record: Record) -> None:
        kind = getattr(record, "kind", None)
        if kind == "line_crossing" and self.driver is not None:
            latency = self.driver.workers["cam"].last_latency_ms
            if latency is not None:
                self.latencies.append(latency)
        if kind == "camera_state" and record.data.get("state") == "ended":  # type: ignore[union-attr]
            self.ended.set()


async def driver_latencies(video: Path, models: Path, threads: int) -> list[float]:
    config = CameraDriverConfig.model_validate(
        {
            "name": "bench",
            "driver": "camera",
            "cameras": [
                {
                    "name": "cam",
                    "source": str(video),
                    "width": W,
                    "height": H,
                    "detect_fps": 100,
                    "inference": {"model": "blob", "models_dir": str(models), "intra_op_threads": threads},
                    "tracker": {"method": "centroid", "max_distance": 0.5},
                    "lines": [{"name": "gate", "points": [[0.5, 1.0], [0.5, 0.0]], "emit_events": True}],
                }
            ],
        }
    )
    driver = CameraDriver(config, DriverContext("bench", models, models, logging.getLogger("bench")))
    sink = LatencySink()
    sink.driver = driver
    async with driver:
        task = asyncio.create_task(driver.run(sink))
        await asyncio.wait_for(sink.ended.wait(), 600)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return sink.latencies[1:]  # the first frame has no previous side: no crossing, and warms caches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    parser.add_argument("--convs", type=int, default=3, help="dead-weight 3x3 convolutions in the model")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args()
    mode = mode_of(args)
    repeats, frames = {"smoke": (1, 20), "quick": (1, 30), "full": (3, 100)}[mode]
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        folder = write_blob_model(models, "blob", 320, 192, args.convs, 16)
        video = write_video(Path(tmp) / "cross.avi", frames)
        model_ms, latency_ms, p95_ms, events = [], [], [], 0
        for _ in range(repeats):
            before = model_time_ms(folder, args.threads, 30)
            latencies = asyncio.run(driver_latencies(video, models, args.threads))
            model_ms.append(statistics.median([before, model_time_ms(folder, args.threads, 30)]))
            latency_ms.append(statistics.median(latencies))
            events += len(latencies)
            p95_ms.append(sorted(latencies)[int(0.95 * (len(latencies) - 1))])
    model, latency, p95 = statistics.median(model_ms), statistics.median(latency_ms), statistics.median(p95_ms)
    print(f"repeats: {repeats} x {frames} frames of {W}x{H} at {FPS:g} fps, {args.convs} dead convs, "
          f"{args.threads} thread(s); {events} events timed")
    print(f"baseline  bare onnxruntime model time:        {model:7.2f} ms")
    print(f"measured  frame -> event latency (median):    {latency:7.2f} ms   (p95 {p95:.2f} ms)")
    print(f"ratio latency/model: {latency / model:.2f}x   overhead: {latency - model:.2f} ms "
          f"(goal <= {GOAL_OVERHEAD_MS:g} ms: {'met' if latency - model <= GOAL_OVERHEAD_MS else 'NOT met'})")
    report = Report("bench_camera_latency", mode, params={"repeats": repeats, "frames": frames, "convs": args.convs})
    report.add(Figure(
        id="camera.latency", title="frame -> event latency (median), camera driver", value=latency, unit="ms",
        baseline=model, baseline_title="bare onnxruntime model time", better="lower",
        goal=f"<= model time + {GOAL_OVERHEAD_MS:g} ms", goal_met=latency - model <= GOAL_OVERHEAD_MS, floor=2.0,
        runs=latency_ms, note=f"p95 {p95:.2f} ms"))
    report.write(args.json)


if __name__ == "__main__":
    main()
