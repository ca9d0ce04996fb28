"""Cost of routing FFmpeg's log through Python (``drivers/camera/ffmpeg_log.py``), in one run.

    .venv/bin/python bench/bench_ffmpeg_log.py [--smoke | --quick] [--json out.json]

FFmpeg calls the hook for every message at every level (its own level filter lives in the default
callback it replaces), so the hook costs a Python call per debug message the decoder emits. Real
files written by OpenCV (640x360, MJPG and mp4v) are decoded as fast as possible. baseline: FFmpeg's
default callback. measured: the hook installed. Reports CPU seconds per 1000 frames, medians over
interleaved repeats, hook calls per frame, and the ratio hooked/default.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.camera import ffmpeg_log  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _results import Figure, Report, add_mode_args, mode_of  # noqa: E402

W, H, FPS = 640, 360, 10.0


def write_video(path: Path, fourcc: str, frames: int) -> Path:
    rng = np.random.default_rng(5)
    street = cv2.GaussianBlur(rng.integers(20, 200, (H, W, 3), dtype=np.uint8), (5, 5), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (W, H))
    for i in range(frames):
        frame = street.copy()
        cv2.rectangle(frame, (i * 4 % W, 200), (i * 4 % W + 80, 250), (60, 60, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def decode_cpu_s(path: Path) -> tuple[float, int]:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    start = time.process_time()
    frames = 0
    while True:
        ok, _ = capture.read()
        if not ok:
            break
        frames += 1
    capture.release()
    return time.process_time() - start, frames


class CallCounter:
    def __init__(self) -> None:
        self.calls = 0
        self._inner = ffmpeg_log._on_log

    def __call__(self, context: int | None, level: int, fmt: bytes | None, args: int | None) -> None:
        self.calls += 1
        self._inner(context, level, fmt, args)


def main() -> None:
    parser = argparse.ArgumentParser()
    add_mode_args(parser)
    opts = parser.parse_args()
    mode = mode_of(opts)
    frames, repeats = {"smoke": (100, 3), "quick": (150, 3), "full": (600, 7)}[mode]
    report = Report("bench_ffmpeg_log", mode, params={"frames": frames, "repeats": repeats})
    with tempfile.TemporaryDirectory() as tmp:
        for fourcc, suffix in (("MJPG", ".avi"), ("mp4v", ".mp4")):
            video = write_video(Path(tmp) / f"street{suffix}", fourcc, frames)
            decode_cpu_s(video)  # warm the page cache and the libraries
            base: list[float] = []
            hooked: list[float] = []
            counter = CallCounter()
            for _ in range(repeats):
                ffmpeg_log._uninstall()
                cpu, n = decode_cpu_s(video)
                base.append(cpu / n * 1000)
                ffmpeg_log._on_log = counter  # type: ignore[assignment]
                ffmpeg_log.install()
                cpu, n = decode_cpu_s(video)
                hooked.append(cpu / n * 1000)
                ffmpeg_log._on_log = counter._inner  # type: ignore[method-assign]
            ffmpeg_log._uninstall()
            b, h = statistics.median(base), statistics.median(hooked)
            print(
                f"{fourcc:5s} {frames} frames x{repeats}: default {b:.3f} CPU s/1000 frames, "
                f"hooked {h:.3f}, ratio {h / b:.3f}, hook calls/frame {counter.calls / (frames * repeats):.2f}"
            )
            report.add(Figure(
                id=f"ffmpeg_log.{fourcc.lower()}", title=f"decode {fourcc} with FFmpeg's log routed through Python",
                value=h, unit="CPU s/1000 frames", baseline=b, baseline_title="FFmpeg's default log callback",
                better="lower", floor=1.3, note=f"{counter.calls / (frames * repeats):.2f} hook calls a frame"))
    report.write(opts.json)


if __name__ == "__main__":
    main()
