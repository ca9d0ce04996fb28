"""Motion gating: CPU of the camera driver on a mostly static scene, gated vs ungated, in one run.

    .venv/bin/python bench/bench_camera_motion.py [--smoke | --quick] [--convs 3] [--json out.json]

A real MJPG file (640x360, 10 fps): a textured static street with a car passing during 10 % of
the time. The camera driver plays it in real time with detect_fps 10 and the ONNX blob detector
(``--convs`` dead-weight convolutions: the cost of a small detector). baseline: motion gating off
(every frame inferred). measured: gating on (frame differencing, forced inference once a second).
Reports process CPU seconds (all threads: decode, motion, inference) and inferences, medians over
interleaved repeats, and the ratio gated/ungated.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.records import Record  # noqa: E402
from drivers.base import DriverContext  # noqa: E402
from drivers.camera.config import CameraDriverConfig  # noqa: E402
from drivers.camera.driver import CameraDriver  # noqa: E402
from tests.integration.camera.blob_model import write_blob_model  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _results import Figure, Report, add_mode_args, mode_of  # noqa: E402

W, H, FPS = 640, 360, 10.0


def write_static_scene(path: Path, seconds: float) -> Path:
    rng = np.random.default_rng(3)
    street = cv2.GaussianBlur(rng.integers(20, 90, (H, W, 3), dtype=np.uint8), (7, 7), 0)
    frames = round(seconds * FPS)
    moving = range(int(frames * 0.45), int(frames * 0.55))  # 10 % of the time a car passes
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    for i in range(frames):
        frame = street.copy()
        if i in moving:
            x = int((i - moving.start) / len(moving) * (W - 100))
            cv2.rectangle(frame, (x, 200), (x + 100, 260), (60, 60, 255), -1)  # bright in grey too
        writer.write(frame)
    writer.release()
    return path


class EndSink:
    def __init__(self) -> None:
        self.ended = asyncio.Event()

    async def put(self, record: Record) -> None:
        if getattr(record, "kind", None) == "camera_state" and record.data.get("state") == "ended":  # type: ignore[union-attr]
            self.ended.set()


async def run_camera(video: Path, models: Path, gated: bool) -> tuple[float, int, int]:
    """(CPU seconds of this process, inferences, motion-skipped frames) for one play of ``video``."""
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
                    "detect_fps": FPS,
                    "motion": {"enabled": gated, "force_every_s": 1.0},
                    "inference": {"model": "blob", "models_dir": str(models), "intra_op_threads": 1},
                    "zones": [{"name": "road", "polygon": [[0, 0.5], [1, 0.5], [1, 0.8], [0, 0.8]]}],
                }
            ],
        }
    )
    driver = CameraDriver(config, DriverContext("bench", models, models, logging.getLogger("bench")))
    sink = EndSink()
    async with driver:
        started = time.process_time()
        task = asyncio.create_task(driver.run(sink))
        await asyncio.wait_for(sink.ended.wait(), 600)
        cpu = time.process_time() - started
        status = driver.workers["cam"].status()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return cpu, int(status["inferences"]), int(status["motion_skipped"])  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    parser.add_argument("--convs", type=int, default=3, help="dead-weight 3x3 convolutions in the model")
    args = parser.parse_args()
    mode = mode_of(args)
    repeats, seconds = {"smoke": (1, 3.0), "quick": (1, 8.0), "full": (3, 20.0)}[mode]
    logging.basicConfig(level=logging.ERROR)
    results: dict[bool, list[tuple[float, int, int]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        write_blob_model(models, "blob", 320, 192, args.convs, 16)
        video = write_static_scene(Path(tmp) / "street.avi", seconds)
        for _ in range(repeats):
            for gated in (False, True):  # interleaved so machine load hits both alike
                results[gated].append(asyncio.run(run_camera(video, models, gated)))

    def med(gated: bool, index: int) -> float:
        return statistics.median(r[index] for r in results[gated])

    print(f"repeats: {repeats} x {seconds:g} s of {W}x{H} at {FPS:g} fps (car visible 10 % of the time), "
          f"{args.convs} dead convs")
    print(f"baseline  ungated: {med(False, 0):6.2f} CPU s, {med(False, 1):5.0f} inferences")
    print(f"measured  gated:   {med(True, 0):6.2f} CPU s, {med(True, 1):5.0f} inferences, "
          f"{med(True, 2):5.0f} frames skipped by motion")
    print(f"ratio gated/ungated CPU: {med(True, 0) / med(False, 0):.2f}x   "
          f"inferences: {med(True, 1) / med(False, 1):.2f}x")
    report = Report("bench_camera_motion", mode, params={"repeats": repeats, "seconds": seconds})
    report.add(Figure(
        id="camera.motion_cpu", title="camera driver CPU on a mostly static scene, motion-gated", value=med(True, 0),
        unit="CPU s", baseline=med(False, 0), baseline_title="ungated (every frame inferred)", better="lower",
        floor=0.8, note=f"{med(True, 1):.0f} inferences gated vs {med(False, 1):.0f}"))
    report.write(args.json)


if __name__ == "__main__":
    main()
