"""Pure numpy decoders: raw model outputs -> boxes in input pixels -> ``Detection`` in frame pixels.

Each ``decode_*`` takes the outputs of ONE sample (batch dim removed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.camera.inference.detection import Detection
from drivers.camera.inference.preprocess import FloatArray, FrameTransform

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class DecodeParams:
    confidence: float
    iou: float
    labels: Sequence[str]
    keep: frozenset[int] | None = None  # class ids to keep; None: all


@dataclass(frozen=True, slots=True)
class RawBoxes:
    """Candidate boxes in input pixels (xyxy) before NMS."""

    boxes: FloatArray
    scores: FloatArray
    class_ids: IntArray


def cxcywh_to_xyxy(boxes: FloatArray) -> FloatArray:
    centers = boxes[:, :2].astype(np.float32, copy=False)
    half = boxes[:, 2:4].astype(np.float32, copy=False) / np.float32(2.0)
    return np.concatenate((centers - half, centers + half), axis=1)


def to_xyxy(boxes: FloatArray, box_format: str) -> FloatArray:
    boxes = boxes.astype(np.float32, copy=False)
    if box_format == "xyxy":
        return boxes
    if box_format == "yxyx":
        return np.ascontiguousarray(boxes[:, [1, 0, 3, 2]])
    if box_format == "xywh":
        out = boxes.copy()
        out[:, 2] = boxes[:, 0] + boxes[:, 2]
        out[:, 3] = boxes[:, 1] + boxes[:, 3]
        return out
    if box_format == "cxcywh":
        return cxcywh_to_xyxy(boxes)
    raise ValueError(f"unknown box format {box_format!r}")


# Once at most this many boxes are left and a loop round suppressed under a quarter of them (sparse boxes,
# so many rounds to go), the pairwise overlap table is cheaper than further rounds. Rounds that suppress
# a lot (overlapping boxes) stay a loop: they finish in few rounds, O(n) each, no O(n^2) table.
_MATRIX_NMS_MAX = 128


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> IntArray:
    """Greedy NMS; indices of the kept boxes, best score first. A box is suppressed when IoU > threshold."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, i], dtype=np.float32) for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        if rest.size == 0:
            break
        width = np.maximum(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0.0)
        height = np.maximum(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0.0)
        inter = width * height
        union = areas[best] + areas[rest] - inter
        order = rest[inter <= iou_threshold * np.maximum(union, 1e-12)]  # IoU <= threshold, no division
        if 1 < order.size <= _MATRIX_NMS_MAX and 4 * order.size > 3 * rest.size:  # sparse: few suppressed
            table = _nms_table(x1[order], y1[order], x2[order], y2[order], areas[order], order, iou_threshold)
            keep.extend(table.tolist())
            break
    return np.asarray(keep, dtype=np.int64)


def _nms_table(
    x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray, areas: FloatArray, order: IntArray, iou: float
) -> IntArray:
    """The same greedy NMS (same float32 arithmetic, same decisions) on boxes sorted best first, with all
    pairwise overlaps computed in one go: the loop then only ORs rows instead of recomputing IoUs."""
    col = np.newaxis
    width = np.maximum(np.minimum(x2[:, col], x2) - np.maximum(x1[:, col], x1), 0.0)
    height = np.maximum(np.minimum(y2[:, col], y2) - np.maximum(y1[:, col], y1), 0.0)
    inter = width * height
    union = areas[:, col] + areas - inter
    overlaps = inter > iou * np.maximum(union, 1e-12)
    suppressed = np.zeros(order.size, dtype=bool)
    keep: list[int] = []
    for i in range(order.size):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlaps[i]
    return order[keep]


def classwise_nms(raw: RawBoxes, iou_threshold: float, max_detections: int) -> IntArray:
    """NMS within each class only (a car never suppresses a person); best score first overall."""
    count = raw.scores.size
    if count <= 1:  # nothing to suppress
        return np.arange(count, dtype=np.int64)
    first = raw.class_ids[0]
    if (raw.class_ids == first).all():  # one class (the usual case): no per-class split
        return nms(raw.boxes, raw.scores, iou_threshold)[:max_detections]
    kept: list[IntArray] = []
    for class_id in np.unique(raw.class_ids):
        members = np.flatnonzero(raw.class_ids == class_id)
        kept.append(members[nms(raw.boxes[members], raw.scores[members], iou_threshold)])
    indices = np.concatenate(kept)
    order = np.argsort(-raw.scores[indices], kind="stable")
    return indices[order][:max_detections]


def _filter(raw: RawBoxes, params: DecodeParams) -> RawBoxes:
    mask = raw.scores >= params.confidence
    if params.keep is not None:
        mask &= np.isin(raw.class_ids, np.fromiter(params.keep, dtype=np.int64, count=len(params.keep)))
    if mask.all():
        return raw
    return RawBoxes(raw.boxes[mask], raw.scores[mask], raw.class_ids[mask])


def finish(raw: RawBoxes, params: DecodeParams, transform: FrameTransform, max_detections: int) -> list[Detection]:
    """Threshold, class-wise NMS, map back to frame pixels."""
    raw = _filter(raw, params)
    if raw.scores.size == 0:
        return []
    kept = classwise_nms(raw, params.iou, max_detections)
    boxes = transform.to_frame(raw.boxes[kept]).tolist()
    labels = params.labels
    return [
        Detection(cid, _label(labels, cid), score, b[0], b[1], b[2], b[3])
        for b, score, cid in zip(boxes, raw.scores[kept].tolist(), raw.class_ids[kept].tolist(), strict=True)
    ]


def _label(labels: Sequence[str], class_id: int) -> str:
    return labels[class_id] if 0 <= class_id < len(labels) else str(class_id)


def yolov8_candidates(output: FloatArray, confidence: float | None = None) -> RawBoxes:
    """``[4 + nc, N]`` (cx, cy, w, h, scores...) -> xyxy candidates, best class per anchor.

    With ``confidence``, anchors below it are dropped first, so only the few left are converted.
    """
    class_scores = output[4:]  # [nc, N], read in the output's own (contiguous) layout
    if class_scores.shape[0] == 1:
        scores = class_scores[0]
        class_ids = np.zeros(scores.shape, dtype=np.int64)
    else:
        class_ids = np.argmax(class_scores, axis=0).astype(np.int64)
        scores = np.take_along_axis(class_scores, class_ids[np.newaxis], axis=0)[0]
    if confidence is not None:
        picked = np.flatnonzero(scores >= confidence)
        scores, class_ids, boxes = scores[picked], class_ids[picked], output[:4, picked].T
    else:
        boxes = output[:4].T
    return RawBoxes(cxcywh_to_xyxy(boxes), scores.astype(np.float32, copy=False), class_ids)


def decode_yolov8(
    output: FloatArray, params: DecodeParams, transform: FrameTransform, max_detections: int = 300
) -> list[Detection]:
    return finish(yolov8_candidates(output, params.confidence), params, transform, max_detections)


def decode_ssd(
    boxes: FloatArray,
    scores: FloatArray,
    classes: FloatArray,
    params: DecodeParams,
    transform: FrameTransform,
    *,
    box_format: str = "xyxy",
    input_size: tuple[int, int] | None = None,
    class_offset: int = 0,
    max_detections: int = 300,
) -> list[Detection]:
    """``boxes [N,4]``, ``scores [N]``, ``classes [N]``; ``input_size=(w, h)`` scales normalised boxes."""
    xyxy = to_xyxy(boxes.reshape(-1, 4), box_format)
    if input_size is not None:
        xyxy = xyxy * np.asarray([input_size[0], input_size[1]] * 2, dtype=np.float32)
    class_ids = np.rint(classes.reshape(-1)).astype(np.int64) + class_offset
    raw = RawBoxes(xyxy, scores.reshape(-1).astype(np.float32), class_ids)
    return finish(raw, params, transform, max_detections)


def softmax(logits: FloatArray) -> FloatArray:
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probs: FloatArray = (exp / np.sum(exp, axis=-1, keepdims=True)).astype(np.float32)
    return probs


def decode_classification(
    output: FloatArray, params: DecodeParams, transform: FrameTransform, *, logits: bool = False, top_k: int = 1
) -> list[Detection]:
    """``[nc]`` -> the top-k classes at or above the confidence, each covering the whole frame."""
    probs = softmax(output.reshape(-1)) if logits else output.reshape(-1).astype(np.float32, copy=False)
    # argmax takes the first of equal scores, like the stable sort
    order = [int(np.argmax(probs))] if top_k == 1 else np.argsort(-probs, kind="stable")[:top_k].tolist()
    width, height = float(transform.frame_width), float(transform.frame_height)
    values = probs.tolist()
    return [
        Detection(i, _label(params.labels, i), values[i], 0.0, 0.0, width, height)
        for i in order
        if values[i] >= params.confidence and (params.keep is None or i in params.keep)
    ]
