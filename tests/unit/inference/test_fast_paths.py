"""The per-frame fast paths give the same answers as the plain ones: preprocessing into a reused
buffer, the one-call NCHW normalisation, decode shortcuts (<= 1 box, one class, top-1), and the
worker's hand-over with one camera or several."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import pytest

from drivers.camera.inference import worker as worker_module
from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.detection import Detection
from drivers.camera.inference.manifest import InputSpec
from drivers.camera.inference.postprocess import (
    DecodeParams,
    RawBoxes,
    classwise_nms,
    decode_classification,
    decode_yolov8,
    nms,
)
from drivers.camera.inference.preprocess import FrameTransform, InputBatch, preprocess
from drivers.camera.inference.worker import ModelWorker, Request, batch_target

IDENTITY = FrameTransform(1.0, 1.0, 0.0, 0.0, 1000, 1000)
IMAGENET = {"scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
LETTERBOXES = [
    {"enabled": False},
    {"anchor": "center", "pad_value": 114},
    {"fit": "height", "anchor": "top_left", "pad_value": 127.5},
]


def reference_nchw(frame: np.ndarray, spec: InputSpec, transform: FrameTransform) -> np.ndarray:
    """The textbook version: float copy, normalise, transpose, paste into a padded canvas."""
    new_w, new_h = round(transform.scale_x * frame.shape[1]), round(transform.scale_y * frame.shape[0])
    pad_x, pad_y = int(transform.pad_x), int(transform.pad_y)
    image = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    norm = spec.normalization
    std = np.asarray(norm.std, np.float32)
    gain, offset = np.float32(norm.scale) / std, -np.asarray(norm.mean, np.float32) / std
    out = np.empty((3, spec.height, spec.width), np.float32)
    out[...] = (np.float32(spec.letterbox.pad_value) * gain + offset)[:, np.newaxis, np.newaxis]
    rgb = image[:, :, ::-1] if spec.color == "RGB" else image
    out[:, pad_y : pad_y + new_h, pad_x : pad_x + new_w] = (rgb.astype(np.float32) * gain + offset).transpose(2, 0, 1)
    return out


@pytest.mark.parametrize("letterbox", LETTERBOXES)
@pytest.mark.parametrize("color", ["RGB", "BGR"])
@pytest.mark.parametrize("size", [(360, 640), (640, 360), (64, 96), (10, 300)])
def test_nchw_preprocess_matches_the_textbook_version_and_fills_a_reused_buffer(
    letterbox: dict[str, Any], color: str, size: tuple[int, int]
) -> None:
    spec = InputSpec(shape=(1, 3, 64, 96), color=color, normalization=IMAGENET, letterbox=letterbox)
    frame = np.random.default_rng(sum(size)).integers(0, 256, (*size, 3), dtype=np.uint8)
    tensor, transform = preprocess(frame, spec)
    np.testing.assert_allclose(tensor, reference_nchw(frame, spec, transform), rtol=0, atol=1e-5)
    buffer = np.full((3, 64, 96), np.nan, np.float32)  # every element must be written
    again, _ = preprocess(frame, spec, out=buffer)
    assert again is buffer
    assert np.array_equal(buffer, tensor)


def test_preprocess_refuses_an_out_buffer_of_the_wrong_shape() -> None:
    spec = InputSpec(shape=(1, 3, 64, 96))
    with pytest.raises(ValueError, match=r"out must be \(3, 64, 96\) float32"):
        preprocess(np.zeros((10, 10, 3), np.uint8), spec, out=np.empty((3, 96, 64), np.float32))


def test_input_batch_is_reused_grows_and_follows_the_model_input() -> None:
    small, big = InputSpec(shape=(1, 3, 8, 8)), InputSpec(shape=(1, 3, 16, 16))
    batch = InputBatch()
    one = batch.take(1, small)
    assert one.shape == (1, 3, 8, 8) and one.flags.c_contiguous
    two = batch.take(2, small)
    assert two.shape == (2, 3, 8, 8)
    assert np.shares_memory(batch.take(1, small), two)  # smaller requests reuse the grown tensor
    other = batch.take(1, big)
    assert other.shape == (1, 3, 16, 16) and not np.shares_memory(other, two)
    assert batch.take(1, InputSpec(shape=(1, 8, 8, 3), layout="NHWC", dtype="uint8")).dtype == np.uint8


def random_boxes(rng: np.random.Generator, count: int, classes: int) -> RawBoxes:
    xy = rng.random((count, 2)).astype(np.float32) * 100
    wh = 5 + rng.random((count, 2)).astype(np.float32) * 30
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.random(count).astype(np.float32)
    return RawBoxes(boxes, scores, rng.integers(0, classes, count).astype(np.int64))


def per_class_reference(raw: RawBoxes, iou: float) -> list[int]:
    kept: list[int] = []
    for class_id in np.unique(raw.class_ids):
        members = np.flatnonzero(raw.class_ids == class_id)
        kept += members[nms(raw.boxes[members], raw.scores[members], iou)].tolist()
    return sorted(kept, key=lambda i: -raw.scores[i])


@pytest.mark.parametrize("classes", [1, 3])
@pytest.mark.parametrize("count", [0, 1, 2, 40])
def test_classwise_nms_shortcuts_keep_what_per_class_nms_keeps(classes: int, count: int) -> None:
    raw = random_boxes(np.random.default_rng(count * 10 + classes), count, classes)
    assert classwise_nms(raw, 0.3, 300).tolist() == per_class_reference(raw, 0.3)
    assert classwise_nms(raw, 0.3, 2).tolist() == per_class_reference(raw, 0.3)[:2]


def test_one_anchor_yolov8_output_decodes_without_nms() -> None:
    params = DecodeParams(confidence=0.5, iou=0.45, labels=["blob"])
    one = np.array([[32, 20, 8, 4, 0.9]], dtype=np.float32).T
    assert decode_yolov8(one, params, IDENTITY) == [Detection(0, "blob", pytest.approx(0.9), 28.0, 18.0, 36.0, 22.0)]
    faint = np.array([[32, 20, 8, 4, 0.2]], dtype=np.float32).T
    assert decode_yolov8(faint, params, IDENTITY) == []


def test_top1_classification_takes_the_first_of_equal_scores_like_top_k() -> None:
    params = DecodeParams(confidence=0.1, iou=0.45, labels=["a", "b", "c"])
    tied = np.array([0.2, 0.4, 0.4], dtype=np.float32)
    (top1,) = decode_classification(tied, params, IDENTITY, top_k=1)
    first_of_three = decode_classification(tied, params, IDENTITY, top_k=3)[0]
    assert top1 == first_of_three and top1.label == "b"


class RecordingRunner:
    """Stands in for ModelRunner: answers each frame with one detection naming it, records batch sizes."""

    name = "fake"
    batch_dynamic = True

    def __init__(self) -> None:
        self.batches: list[int] = []

    def infer(self, frames: Sequence[Any], params: Sequence[Any], scratch: InputBatch | None = None) -> list[list[Any]]:
        self.batches.append(len(frames))
        return [[Detection(0, str(frame), 1.0, 0.0, 0.0, 1.0, 1.0)] for frame in frames]


async def ask(worker: ModelWorker, frame: str) -> list[Detection]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[Detection]] = loop.create_future()
    worker.submit(Request(frame, lambda runner: None, future, loop))  # type: ignore[arg-type, return-value]
    return await future


@pytest.mark.parametrize("cameras", [1, 2])
async def test_worker_answers_every_request_with_its_own_result(cameras: int) -> None:
    runner = RecordingRunner()
    worker = ModelWorker(InferenceConfig(model="fake", batch_window_ms=100.0), runner)  # type: ignore[arg-type]
    worker.clients = cameras
    try:
        for round_ in range(3):
            frames = [f"cam{c}-{round_}" for c in range(cameras)]
            answers = await asyncio.gather(*(ask(worker, frame) for frame in frames))
            assert [a[0].label for a in answers] == frames
        assert sum(runner.batches) == 3 * cameras
        if cameras > 1:  # requests of one loop iteration are handed over together
            assert max(runner.batches) == cameras
    finally:
        await asyncio.to_thread(worker.stop)


class FrozenClock:
    """The worker's clock, moved by hand (queue waits still take real time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    perf_counter = staticmethod(time.perf_counter)


async def test_the_batch_window_waits_for_cameras_in_step_not_after_an_idle_spell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FrozenClock()
    monkeypatch.setattr(worker_module, "time", clock)
    runner = RecordingRunner()
    # a window far longer than the test's deadline: a worker that waits it out fails the test
    config = InferenceConfig(model="fake").model_copy(update={"batch_window_ms": 600_000.0})
    worker = ModelWorker(config, runner)  # type: ignore[arg-type]
    worker.clients = 2
    try:
        await asyncio.gather(ask(worker, "a0"), ask(worker, "b0"))
        clock.now += 0.001  # camera a is back right away: the worker waits for b
        first = asyncio.create_task(ask(worker, "a1"))
        await asyncio.sleep(0)
        assert [d[0].label for d in await asyncio.gather(first, ask(worker, "b1"))] == ["a1", "b1"]
        assert runner.batches == [2, 2]
        clock.now += 3600.0  # camera b stopped; a comes back after an idle hour: no waiting for b
        (alone,) = await asyncio.wait_for(ask(worker, "a2"), timeout=30.0)
        assert alone.label == "a2" and runner.batches == [2, 2, 1]
    finally:
        await asyncio.to_thread(worker.stop)


def test_batch_target_counts_other_cameras_only_in_step_and_busy() -> None:
    assert batch_target(limit=4, clients=3, last_batch=2, idle_s=0.001, window_s=0.004) == 3
    assert batch_target(limit=2, clients=3, last_batch=3, idle_s=0.0, window_s=0.004) == 2  # max_batch caps
    assert batch_target(limit=4, clients=3, last_batch=1, idle_s=0.0, window_s=0.004) == 1  # not in step
    assert batch_target(limit=4, clients=3, last_batch=2, idle_s=0.5, window_s=0.004) == 1  # model was idle
    assert batch_target(limit=4, clients=0, last_batch=2, idle_s=0.0, window_s=0.004) == 1


def greedy_reference(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Textbook greedy NMS, one pair at a time, with nms()'s float32 arithmetic and tie order."""
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float32) for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable").tolist():
        for k in kept:
            w = np.maximum(np.minimum(x2[k], x2[i]) - np.maximum(x1[k], x1[i]), np.float32(0.0))
            h = np.maximum(np.minimum(y2[k], y2[i]) - np.maximum(y1[k], y1[i]), np.float32(0.0))
            inter = w * h
            if inter > iou * np.maximum(areas[k] + areas[i] - inter, 1e-12):
                break
        else:
            kept.append(i)
    return kept


@pytest.mark.parametrize("spread", [20.0, 100.0, 1000.0])  # mostly overlapping .. mostly apart
@pytest.mark.parametrize("count", [2, 30, 150])  # below and above the overlap-table size
def test_nms_matches_textbook_greedy_nms(spread: float, count: int) -> None:
    rng = np.random.default_rng(int(spread) + count)
    xy = rng.random((count, 2)).astype(np.float32) * spread
    boxes = np.concatenate([xy, xy + 5 + rng.random((count, 2)).astype(np.float32) * 30], axis=1)
    scores = rng.random(count).astype(np.float32)
    scores[: count // 3] = scores[0]  # ties keep their input order
    for iou in (0.0, 0.3, 0.7, 1.0):
        assert nms(boxes, scores, iou).tolist() == greedy_reference(boxes, scores, iou)
