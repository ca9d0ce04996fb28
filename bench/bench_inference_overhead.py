"""Inference runtime overhead: bare onnxruntime loop vs the full edgepost path, same model and frames.

    .venv/bin/python bench/bench_inference_overhead.py [--quick] [--model text-direction] [--threads 1]

All paths use one plain onnxruntime session each, with the same threads and optimisation level.

model time: ``session.run`` on tensors prepared beforehand (no frame handling at all).
baseline:   the bare loop one writes without edgepost, from the same frames: cv2.resize + numpy
            normalise + ``session.run`` + a minimal decode (argmax / score filter), in the caller's thread.
measured:   ``await handle.detect(frame)`` through the SessionPool, one frame after the other: letterbox +
            normalise + hand-off to the worker thread + run + decode + NMS + mapping back to frame pixels.
measured x2: two cameras sharing the session concurrently (cross-camera batching), total fps.
Medians over interleaved repeats (machine load hits every path alike). Goals: measured/baseline >= 0.95,
latency overhead (measured - model time) <= 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.manifest import load_manifest
from drivers.camera.inference.pool import ModelHandle, SessionPool
from drivers.camera.inference.preprocess import preprocess
from drivers.camera.inference.store import find_manifest


def make_frames(count: int, width: int, height: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    frames = []
    for i in range(count):
        frame = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
        cv2.putText(frame, f"POLE {i:03d} street", (20, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 4)
        cv2.rectangle(frame, (40 + 7 * i, 40), (140 + 7 * i, 120), (230, 230, 230), -1)
        frames.append(frame)
    return frames


def bare_session(model_path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])


def run_bare(session: ort.InferenceSession, name: str, tensors: list[Any], n: int) -> list[float]:
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        session.run(None, {name: tensors[i % len(tensors)]})
        latencies.append(time.perf_counter() - started)
    return latencies


def bare_loop(session: ort.InferenceSession, name: str, spec: Any, frames: list[np.ndarray], n: int) -> list[float]:
    """Hand-written frame -> tensor -> run -> top result: what a bare onnxruntime user writes."""
    std = np.asarray(spec.normalization.std, dtype=np.float32)
    gain = np.float32(spec.normalization.scale) / std
    offset = -np.asarray(spec.normalization.mean, dtype=np.float32) / std
    size = (spec.width, spec.height)
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        image = cv2.resize(frames[i % len(frames)], size, interpolation=cv2.INTER_LINEAR)
        if spec.color == "RGB":
            image = image[:, :, ::-1]
        tensor = (image.astype(np.float32) * gain + offset).transpose(2, 0, 1)[np.newaxis]
        (out, *_) = session.run(None, {name: np.ascontiguousarray(tensor)})
        if out.ndim == 3:  # yolov8 [1, 4+nc, N]: keep the confident anchors
            scores = out[0, 4:].max(axis=0)
            _ = out[0, :4, scores > 0.5]
        else:
            _ = int(np.argmax(out[0]))
        latencies.append(time.perf_counter() - started)
    return latencies


async def run_full(handle: ModelHandle, frames: list[np.ndarray], n: int) -> list[float]:
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        await handle.detect(frames[i % len(frames)])
        latencies.append(time.perf_counter() - started)
    return latencies


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--model", default="text-direction")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for both paths (0: default)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    frames_per_repeat, repeats = (60, 3) if args.quick else (300, 7)

    loaded = load_manifest(find_manifest(args.model))
    frames = make_frames(16, args.width, args.height)
    tensors = [preprocess(f, loaded.manifest.input)[0][np.newaxis] for f in frames]
    session = bare_session(loaded.model_path(), args.threads)
    input_name = loaded.manifest.input.name or session.get_inputs()[0].name

    pool = SessionPool()
    handle = await pool.acquire(InferenceConfig(model=args.model, intra_op_threads=args.threads))
    run_bare(session, input_name, tensors, 20)  # warm both paths
    await run_full(handle, frames, 20)

    second = await pool.acquire(InferenceConfig(model=args.model, intra_op_threads=args.threads))
    spec = loaded.manifest.input
    fps: dict[str, list[float]] = {"model": [], "bare": [], "full": [], "two": []}
    p50: dict[str, list[float]] = {"model": [], "bare": [], "full": []}
    for _ in range(repeats):
        for key, lat in (
            ("model", run_bare(session, input_name, tensors, frames_per_repeat)),
            ("bare", bare_loop(session, input_name, spec, frames, frames_per_repeat)),
            ("full", await run_full(handle, frames, frames_per_repeat)),
        ):
            fps[key].append(len(lat) / sum(lat))
            p50[key].append(statistics.median(lat))
        started = time.perf_counter()
        await asyncio.gather(run_full(handle, frames, frames_per_repeat), run_full(second, frames, frames_per_repeat))
        fps["two"].append(2 * frames_per_repeat / (time.perf_counter() - started))
    batches = pool.status()[loaded.manifest.name]["avg_batch"]
    await pool.close()

    f = {k: statistics.median(v) for k, v in fps.items()}
    ms = {k: statistics.median(v) * 1e3 for k, v in p50.items()}
    print(f"model {args.model}, frames {args.width}x{args.height}, {frames_per_repeat} frames x {repeats} repeats, "
          f"intra-op threads {args.threads or 'default'}")
    print(f"model time  session.run on ready tensors : {f['model']:8.1f} fps   latency p50 {ms['model']:7.2f} ms")
    print(f"baseline    bare onnxruntime loop        : {f['bare']:8.1f} fps   latency p50 {ms['bare']:7.2f} ms")
    print(f"measured    edgepost full path           : {f['full']:8.1f} fps   latency p50 {ms['full']:7.2f} ms")
    print(f"measured x2 two cameras, shared session  : {f['two']:8.1f} fps   (avg batch {batches})")
    print(f"throughput ratio measured/baseline: {f['full'] / f['bare']:.3f}x (goal >= 0.95); "
          f"two cameras/baseline: {f['two'] / f['bare']:.3f}x")
    print(f"latency overhead: {ms['full'] - ms['model']:+.2f} ms per frame on top of {ms['model']:.2f} ms model time "
          f"(goal <= 20 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
