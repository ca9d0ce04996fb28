"""Pure decoders, NMS and letterbox mapping on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.camera.inference.manifest import InputSpec
from drivers.camera.inference.postprocess import (
    DecodeParams,
    decode_classification,
    decode_ssd,
    decode_yolov8,
    nms,
    softmax,
    to_xyxy,
)
from drivers.camera.inference.preprocess import FrameTransform, preprocess

IDENTITY = FrameTransform(1.0, 1.0, 0.0, 0.0, 1000, 1000)


def place(frame: np.ndarray, height: int, width: int, **letterbox: object) -> tuple[np.ndarray, FrameTransform]:
    """The letterboxed frame in raw 0..255 BGR pixels (identity normalisation, HWC)."""
    spec = InputSpec(
        shape=(1, height, width, 3), layout="NHWC", color="BGR", normalization={"scale": 1.0}, letterbox=letterbox
    )
    return preprocess(frame, spec)


def params(confidence: float = 0.5, iou: float = 0.5, keep: frozenset[int] | None = None) -> DecodeParams:
    return DecodeParams(confidence=confidence, iou=iou, labels=["car", "person"], keep=keep)


def test_nms_suppresses_overlaps_above_threshold_only() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 5]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95], dtype=np.float32)
    # IoU(3,0) = 50/100 = 0.5 exactly (kept at threshold 0.5), IoU(3,1) = 45/105 = 0.43, IoU(0,1) = 0.82
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    assert nms(boxes, scores, 0.49).tolist() == [3, 1, 2]
    assert nms(boxes, scores, 0.4).tolist() == [3, 2]


def test_yolov8_decode_thresholds_classwise_nms_and_labels() -> None:
    # columns are anchors: cx, cy, w, h, score(car), score(person)
    table = np.array(
        [
            [50, 20, 10, 10, 0.9, 0.1],  # car
            [51, 20, 10, 10, 0.1, 0.8],  # person on top of the car: other class, kept
            [52, 20, 10, 10, 0.7, 0.0],  # car overlapping the first car: suppressed
            [200, 200, 40, 20, 0.4, 0.3],  # below the threshold
        ],
        dtype=np.float32,
    ).T
    dets = decode_yolov8(table, params(), IDENTITY)
    assert [(d.label, round(d.score, 3)) for d in dets] == [("car", 0.9), ("person", 0.8)]
    assert (dets[0].x1, dets[0].y1, dets[0].x2, dets[0].y2) == (45.0, 15.0, 55.0, 25.0)
    assert [d.label for d in decode_yolov8(table, params(keep=frozenset({1})), IDENTITY)] == ["person"]
    assert len(decode_yolov8(table, params(confidence=0.35), IDENTITY)) == 3


def test_letterbox_center_and_inverse_mapping_are_exact() -> None:
    frame = np.full((100, 200, 3), 255, dtype=np.uint8)
    canvas, transform = place(frame, 64, 64)
    # 200x100 -> 64x32, padded 16 rows on top and bottom with 114
    assert (transform.scale_x, transform.scale_y, transform.pad_x, transform.pad_y) == (0.32, 0.32, 0.0, 16.0)
    assert canvas[15, 0, 0] == 114.0 and canvas[16, 0, 0] == 255.0 and canvas[47, 63, 0] == 255.0
    assert canvas[48, 0, 0] == 114.0
    table = np.array([[32, 32, 32, 16, 0.9, 0.0]], dtype=np.float32).T
    (det,) = decode_yolov8(table, params(), transform)
    assert (det.x1, det.y1, det.x2, det.y2) == pytest.approx((50.0, 25.0, 150.0, 75.0), abs=1e-4)


def test_top_left_letterbox_pads_right_and_bottom() -> None:
    canvas, transform = place(np.zeros((60, 120, 3), dtype=np.uint8), 48, 192, anchor="top_left", pad_value=127.5)
    assert (transform.pad_x, transform.pad_y, transform.scale_x) == (0.0, 0.0, 0.8)
    assert canvas[:, :96].max() == 0.0 and canvas[:, 96:].min() == 127.5


def test_boxes_are_clipped_to_the_frame() -> None:
    table = np.array([[5, 5, 20, 20, 0.9, 0.0]], dtype=np.float32).T
    (det,) = decode_yolov8(table, params(), FrameTransform(1.0, 1.0, 0.0, 0.0, 10, 10))
    assert (det.x1, det.y1, det.x2, det.y2) == (0.0, 0.0, 10.0, 10.0)


@pytest.mark.parametrize(
    ("fmt", "raw"),
    [
        ("xyxy", [0.1, 0.2, 0.5, 0.6]),
        ("yxyx", [0.2, 0.1, 0.6, 0.5]),
        ("xywh", [0.1, 0.2, 0.4, 0.4]),
        ("cxcywh", [0.3, 0.4, 0.4, 0.4]),
    ],
)
def test_ssd_box_formats_and_normalised_scaling(fmt: str, raw: list[float]) -> None:
    boxes = np.array([raw, [0, 0, 0.1, 0.1]], dtype=np.float32)
    scores = np.array([0.8, 0.2], dtype=np.float32)
    classes = np.array([2.0, 1.0], dtype=np.float32)
    dets = decode_ssd(
        boxes, scores, classes, params(), IDENTITY, box_format=fmt, input_size=(100, 50), class_offset=-1
    )
    assert len(dets) == 1
    det = dets[0]
    assert det.label == "person" and det.class_id == 1
    assert (det.x1, det.y1, det.x2, det.y2) == pytest.approx((10.0, 10.0, 50.0, 30.0), abs=1e-4)
    assert to_xyxy(np.array([raw], dtype=np.float32), fmt) == pytest.approx(np.array([[0.1, 0.2, 0.5, 0.6]]))


def test_classification_softmax_topk_and_whole_frame_box() -> None:
    logits = np.array([1.0, 3.0], dtype=np.float32)
    probs = softmax(logits)
    assert probs.sum() == pytest.approx(1.0)
    transform = FrameTransform(1.0, 1.0, 0.0, 0.0, 320, 240)
    (det,) = decode_classification(logits, params(confidence=0.1), transform, logits=True)
    assert det.label == "person" and det.score == pytest.approx(float(np.exp(3) / (np.exp(1) + np.exp(3))))
    assert (det.x1, det.y1, det.x2, det.y2) == (0.0, 0.0, 320.0, 240.0)
    both = decode_classification(logits, params(confidence=0.1), transform, logits=True, top_k=2)
    assert [d.label for d in both] == ["person", "car"]
    assert decode_classification(np.array([0.6, 0.4], dtype=np.float32), params(confidence=0.7), transform) == []


def test_fit_height_fills_the_height_and_squeezes_wide_frames() -> None:
    fit = {"fit": "height", "anchor": "top_left", "pad_value": 127.5}
    canvas, transform = place(np.zeros((60, 120, 3), dtype=np.uint8), 48, 192, **fit)
    assert (transform.scale_x, transform.scale_y) == (0.8, 0.8)  # 96 x 48, padded right
    assert canvas[:, :96].max() == 0.0 and canvas[:, 96:].min() == 127.5
    canvas, transform = place(np.zeros((60, 400, 3), dtype=np.uint8), 48, 192, **fit)
    assert (transform.scale_x, transform.scale_y) == (0.48, 0.8)  # squeezed to 192 x 48
    assert canvas.max() == 0.0


def test_padding_is_filled_with_the_normalised_pad_value() -> None:
    spec = InputSpec(
        shape=(1, 3, 48, 192),
        color="BGR",
        normalization={"scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        letterbox={"anchor": "top_left", "pad_value": 127.5},
    )
    frame = np.zeros((48, 96, 3), dtype=np.uint8)
    frame[:, :, 0] = 255
    tensor, _ = preprocess(frame, spec)
    assert tensor.shape == (3, 48, 192)
    assert tensor[:, :, 96:].min() == 0.0 and tensor[:, :, 96:].max() == 0.0  # 127.5 normalises to 0
    assert tensor[0, :, :96].min() == 1.0 and tensor[1, :, :96].max() == -1.0
