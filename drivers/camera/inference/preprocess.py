"""Pure numpy/cv2: frame (HxWx3 uint8 BGR) -> input tensor, and the mapping back to frame pixels."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from drivers.camera.inference.errors import BadFrame
from drivers.camera.inference.manifest import InputSpec, Normalization

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class FrameTransform:
    """How a frame was placed in the input: ``input = frame * scale + pad``, per axis."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    frame_width: int
    frame_height: int

    def to_frame(self, boxes: FloatArray) -> FloatArray:
        """Map ``[N, 4]`` xyxy boxes from input pixels back to frame pixels, clipped to the frame."""
        pad = np.array((self.pad_x, self.pad_y, self.pad_x, self.pad_y), dtype=np.float32)
        scale = np.array((self.scale_x, self.scale_y, self.scale_x, self.scale_y), dtype=np.float32)
        out: FloatArray = (boxes.astype(np.float32, copy=False) - pad) / scale
        np.maximum(out, 0.0, out=out)  # two ufuncs: np.clip costs more than both on a few boxes
        frame = (self.frame_width, self.frame_height, self.frame_width, self.frame_height)
        np.minimum(out, np.array(frame, dtype=np.float32), out=out)
        return out


@dataclass(frozen=True, slots=True)
class _Normalizer:
    """``tensor = pixel * gain + offset`` = ``(pixel - mean_px) * gain``, per channel in the model's order."""

    gain: FloatArray
    offset: FloatArray
    mean_px: tuple[float, float, float]
    uniform_gain: float | None  # the gain when all channels share it (one C call does everything)


def check_frame(frame: object) -> npt.NDArray[np.uint8]:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise BadFrame(f"frame must be an HxWx3 uint8 BGR image, got shape={shape} dtype={dtype}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise BadFrame(f"frame is empty: shape={frame.shape}")
    return frame


def _placement(width: int, height: int, spec: InputSpec) -> tuple[int, int, int, int]:
    """(new_w, new_h, pad_x, pad_y) of a width x height frame inside the input."""
    in_w, in_h = spec.width, spec.height
    box = spec.letterbox
    if not box.enabled:
        return in_w, in_h, 0, 0
    if box.fit == "height":
        new_w, new_h = max(1, min(in_w, math.ceil(in_h * width / height))), in_h
    else:
        ratio = min(in_w / width, in_h / height)
        new_w, new_h = max(1, min(in_w, round(width * ratio))), max(1, min(in_h, round(height * ratio)))
    if box.anchor == "top_left":
        return new_w, new_h, 0, 0
    return new_w, new_h, (in_w - new_w) // 2, (in_h - new_h) // 2


@functools.lru_cache(maxsize=32)
def _normalizer(norm: Normalization) -> _Normalizer:
    """Computed once per normalisation (manifests are frozen, hence hashable)."""
    std = np.asarray(norm.std, dtype=np.float32)
    gain = (np.float32(norm.scale) / std).astype(np.float32)
    offset = (-np.asarray(norm.mean, dtype=np.float32) / std).astype(np.float32)
    mean_px = tuple(float(m) / norm.scale for m in norm.mean)
    uniform = float(gain[0]) if gain[0] == gain[1] == gain[2] else None
    gain.flags.writeable = offset.flags.writeable = False
    return _Normalizer(gain, offset, (mean_px[0], mean_px[1], mean_px[2]), uniform)


def sample_shape(spec: InputSpec) -> tuple[int, int, int]:
    """One sample without the batch dim: ``(3, H, W)`` or ``(H, W, 3)``."""
    return (3, spec.height, spec.width) if spec.layout == "NCHW" else (spec.height, spec.width, 3)


def sample_dtype(spec: InputSpec) -> type[np.generic]:
    return np.uint8 if spec.dtype == "uint8" else np.float32


class InputBatch:
    """A reusable input tensor ``[n, *sample]`` for one thread; grows to the largest batch asked for."""

    def __init__(self) -> None:
        self._array: npt.NDArray[Any] | None = None

    def take(self, count: int, spec: InputSpec) -> npt.NDArray[Any]:
        """The first ``count`` slots (contiguous); reallocated when the model's input changes."""
        shape, dtype = sample_shape(spec), sample_dtype(spec)
        array = self._array
        if array is None or array.shape[1:] != shape or array.dtype != dtype or array.shape[0] < count:
            array = self._array = np.empty((count, *shape), dtype=dtype)
        return array[:count]


Index = tuple[slice, ...]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Everything about placing a frame of one size into one model input, computed once per size."""

    resize: tuple[int, int] | None  # (new_w, new_h), or None when the frame already fits
    transform: FrameTransform
    shape: tuple[int, int, int]
    dtype: type[np.generic]
    norm: _Normalizer | None  # None: uint8 input, raw pixels
    pad: Any  # the normalised pad value, shaped to broadcast over a strip
    strips: tuple[Index, ...]  # the non-empty padding strips around the frame
    region: Index  # where the resized frame goes
    nchw: bool
    to_rgb: bool
    one_call: bool  # NCHW float and small: normalise with one cv2.dnn.blobFromImage call


# blobFromImage returns a new float tensor. Small ones are cheap; big ones (a 640x360 frame: 2.7 MB) next to
# a fresh output made glibc trim and re-fault the heap on every frame (10x slower on the main thread), so
# big frames are normalised channel by channel straight into the output instead (as fast without a temp).
_ONE_CALL_MAX_BYTES = 64 * 1024

_layouts: dict[tuple[int, int, int], tuple[InputSpec, _Layout]] = {}


def _layout(spec: InputSpec, width: int, height: int) -> _Layout:
    key = (id(spec), width, height)
    hit = _layouts.get(key)
    if hit is not None and hit[0] is spec:  # the spec itself is kept, so its id is not reused meanwhile
        return hit[1]
    layout = _make_layout(spec, width, height)
    if len(_layouts) >= 64:  # a few models x a few frame sizes; never grows without bound
        _layouts.clear()
    _layouts[key] = (spec, layout)
    return layout


def _make_layout(spec: InputSpec, width: int, height: int) -> _Layout:
    new_w, new_h, pad_x, pad_y = _placement(width, height, spec)
    nchw = spec.layout == "NCHW"
    shape, dtype = sample_shape(spec), sample_dtype(spec)
    norm = None if dtype is np.uint8 else _normalizer(spec.normalization)
    pad: Any
    if norm is None:
        pad = np.uint8(min(255, max(0, round(spec.letterbox.pad_value))))
    else:
        pad = np.float32(spec.letterbox.pad_value) * norm.gain + norm.offset
        pad = pad[:, np.newaxis, np.newaxis] if nchw else pad
    in_w, in_h, top, bottom, left, right = spec.width, spec.height, pad_y, pad_y + new_h, pad_x, pad_x + new_w
    candidates = [(0, top, 0, in_w), (bottom, in_h, 0, in_w), (top, bottom, 0, left), (top, bottom, right, in_w)]
    channels = (slice(None),) if nchw else ()
    strips = tuple(
        (*channels, slice(r0, r1), slice(c0, c1)) for r0, r1, c0, c1 in candidates if r0 < r1 and c0 < c1
    )
    return _Layout(
        resize=None if (new_w, new_h) == (width, height) else (new_w, new_h),
        transform=FrameTransform(new_w / width, new_h / height, float(pad_x), float(pad_y), width, height),
        shape=shape,
        dtype=dtype,
        norm=norm,
        pad=pad,
        strips=strips,
        region=(*channels, slice(top, bottom), slice(left, right)),
        nchw=nchw,
        to_rgb=spec.color == "RGB",
        one_call=nchw and norm is not None and 3 * 4 * new_w * new_h <= _ONE_CALL_MAX_BYTES,
    )


def preprocess(
    frame: object, spec: InputSpec, out: npt.NDArray[Any] | None = None
) -> tuple[npt.NDArray[np.generic], FrameTransform]:
    """One frame -> one input sample (``[C,H,W]`` or ``[H,W,C]``, no batch dim) and its inverse mapping.

    ``out`` (``sample_shape``/``sample_dtype``, e.g. a slot of a reusable batch) is filled in place.
    Only the padding strips are filled with the normalised pad value; the resized frame is converted
    straight into its place (small NCHW float inputs: one ``cv2.dnn.blobFromImage`` call for scale,
    mean, RGB swap and the HWC -> CHW transpose).
    """
    image: npt.NDArray[Any] = check_frame(frame)
    layout = _layout(spec, image.shape[1], image.shape[0])
    if layout.resize is not None:
        # INTER_LINEAR like the YOLO/PP-OCR reference pipelines (and ~30x cheaper than INTER_AREA)
        image = cv2.resize(image, layout.resize, interpolation=cv2.INTER_LINEAR)
    if out is None:
        out = np.empty(layout.shape, dtype=layout.dtype)
    elif out.shape != layout.shape or out.dtype != layout.dtype:
        raise ValueError(f"out must be {layout.shape} {np.dtype(layout.dtype)}, got {out.shape} {out.dtype}")
    for strip in layout.strips:
        out[strip] = layout.pad
    target = out[layout.region]
    norm = layout.norm
    if layout.one_call and norm is not None:
        _normalize_nchw(image, norm, layout.to_rgb, target)
        return out, layout.transform
    for channel in range(3):
        source = image[:, :, 2 - channel if layout.to_rgb else channel]  # frames are BGR
        plane = target[channel] if layout.nchw else target[:, :, channel]
        if norm is None:
            plane[...] = source
        else:
            np.multiply(source, norm.gain[channel], out=plane, casting="unsafe")
            plane += norm.offset[channel]
    return out, layout.transform


def _normalize_nchw(image: npt.NDArray[np.uint8], norm: _Normalizer, to_rgb: bool, target: FloatArray) -> None:
    """BGR HxWx3 uint8 -> ``target`` [3, H, W] float32, normalised, in the model's colour order."""
    scale = 1.0 if norm.uniform_gain is None else norm.uniform_gain
    # blobFromImage computes (pixel - mean) * scale; mean is given in the output (model) channel order
    blob = np.asarray(cv2.dnn.blobFromImage(image, scalefactor=scale, mean=norm.mean_px, swapRB=to_rgb, crop=False))
    if norm.uniform_gain is None:
        np.multiply(blob[0], norm.gain[:, np.newaxis, np.newaxis], out=target)
    else:
        target[...] = blob[0]
