"""One loaded model: sha256-checked file, onnxruntime session, input check, warm-up, batch inference.

Synchronous and thread-safe for ``infer`` (onnxruntime sessions allow concurrent ``run``); the pool
calls it from its worker thread, never from the event loop.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.logs import log_event
from drivers.camera.inference.detection import Detection
from drivers.camera.inference.errors import (
    ChecksumMismatch,
    InferenceFailed,
    InputShapeMismatch,
    ModelLoadFailed,
    OutputMismatch,
)
from drivers.camera.inference.manifest import (
    ClassificationDecoder,
    LoadedManifest,
    SsdDecoder,
    Yolov8Decoder,
)
from drivers.camera.inference.postprocess import DecodeParams, decode_classification, decode_ssd, decode_yolov8
from drivers.camera.inference.preprocess import FrameTransform, InputBatch, preprocess
from drivers.camera.inference.session import ORT_ERRORS, SessionSettings, create_session

logger = logging.getLogger(__name__)
Outputs = dict[str, npt.NDArray[Any]]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shape_text(shape: Sequence[object]) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else "?" for d in shape) + "]"


class ModelRunner:
    """A ready-to-run model. Build it with ``ModelRunner.load``."""

    def __init__(self, loaded: LoadedManifest, session: Any, input_name: str, sha256: str, batch_dynamic: bool):
        self.loaded = loaded
        self.manifest = loaded.manifest
        self.session = session
        self.input_name = input_name
        self.sha256 = sha256
        self.batch_dynamic = batch_dynamic
        self.output_names: list[str] = [o.name for o in session.get_outputs()]
        self.warmup_s = 0.0

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def labels(self) -> list[str]:
        return list(self.manifest.labels)

    @classmethod
    def load(cls, loaded: LoadedManifest, settings: SessionSettings | None = None) -> ModelRunner:
        """Check sha256, build the session, check input and outputs, warm up. Raises ``ModelError``s."""
        path = _model_path(loaded)
        try:
            data = path.read_bytes()
        except OSError as exc:
            where, shown = loaded.where("file"), loaded.model_label(path, full=True)
            raise ModelLoadFailed(f"{where}: cannot read {shown}: {exc.strerror or exc}") from None
        actual = sha256_of(data)
        if actual != loaded.manifest.sha256:
            raise ChecksumMismatch(
                f"{loaded.where('sha256')}: manifest.yaml sha256 {loaded.manifest.sha256} does not match "
                f"{loaded.model_label(path)} (sha256 {actual})"
            )
        try:
            session = create_session(data, settings or SessionSettings())
        except ORT_ERRORS as exc:
            where, shown = loaded.where("file"), loaded.model_label(path)
            raise ModelLoadFailed(f"{where}: onnxruntime cannot load {shown}: {exc}") from None
        input_name, batch_dynamic = _check_input(loaded, session)
        runner = cls(loaded, session, input_name, actual, batch_dynamic)
        runner._check_output_names()
        runner.warm_up()
        return runner

    def _check_output_names(self) -> None:
        decoder = self.manifest.decoder
        wanted: list[tuple[str, str]] = []
        if isinstance(decoder, SsdDecoder):
            wanted = [("boxes", decoder.boxes), ("scores", decoder.scores), ("classes", decoder.classes)]
        elif decoder.output is not None:
            wanted = [("output", decoder.output)]
        for field, name in wanted:
            if name not in self.output_names:
                raise OutputMismatch(
                    f"{self.loaded.where('decoder', field)}: the model has no output {name!r} "
                    f"(outputs: {', '.join(self.output_names)})"
                )

    def warm_up(self) -> None:
        """One inference on a mid-grey frame: pays the first-run cost and checks the output shapes."""
        spec = self.manifest.input
        frame = np.full((spec.height, spec.width, 3), 128, dtype=np.uint8)
        started = time.perf_counter()
        self.infer([frame], [self.default_params()])
        self.warmup_s = time.perf_counter() - started
        warmup_ms = round(self.warmup_s * 1e3)
        providers = ",".join(self.session.get_providers())
        log_event(
            logger, "model_loaded", model=self.name, sha256=self.sha256[:12], providers=providers, warmup_ms=warmup_ms
        )

    def default_params(
        self, confidence: float | None = None, iou: float | None = None, classes: Sequence[str] | None = None
    ) -> DecodeParams:
        thresholds = self.manifest.thresholds
        keep = None
        if classes is not None:
            keep = frozenset(i for i, label in enumerate(self.manifest.labels) if label in set(classes))
        return DecodeParams(
            confidence=thresholds.confidence if confidence is None else confidence,
            iou=thresholds.iou if iou is None else iou,
            labels=self.manifest.labels,
            keep=keep,
        )

    def run(self, batch: npt.NDArray[Any]) -> Outputs:
        """Raw outputs for one input batch."""
        try:
            values = self.session.run(None, {self.input_name: batch})
        except ORT_ERRORS as exc:
            raise InferenceFailed(f"model {self.name}: inference failed: {exc}") from None
        return dict(zip(self.output_names, values, strict=True))

    def infer(
        self, frames: Sequence[object], params: Sequence[DecodeParams], scratch: InputBatch | None = None
    ) -> list[list[Detection]]:
        """Frames (HxWx3 uint8 BGR) -> detections per frame. Batched when the model allows.

        Each frame is preprocessed straight into its slot of the input batch (no per-frame tensor, no
        stacking copy); ``scratch`` keeps that batch between calls (one per calling thread).
        """
        spec = self.manifest.input
        results: list[list[Detection]] = []
        step = len(frames) if self.batch_dynamic else 1
        for start in range(0, len(frames), step):
            chunk = frames[start : start + step]
            batch = (scratch or InputBatch()).take(len(chunk), spec)
            transforms = [preprocess(frame, spec, out=batch[i])[1] for i, frame in enumerate(chunk)]
            outputs = self.run(batch)
            self.check_outputs(outputs, len(chunk))
            for offset, transform in enumerate(transforms):
                results.append(self.decode(outputs, offset, params[start + offset], transform))
        return results

    def check_outputs(self, outputs: Outputs, batch: int) -> None:
        """The outputs must fit the decoder: ``[B, 4+nc, N]``, ``[B, nc]`` or boxes/scores/classes."""
        decoder = self.manifest.decoder
        nc = len(self.manifest.labels)
        if isinstance(decoder, Yolov8Decoder):
            out = outputs[decoder.output or self.output_names[0]]
            if out.ndim != 3 or out.shape[0] != batch or out.shape[1] != 4 + nc:
                raise OutputMismatch(
                    f"{self.loaded.where('decoder', 'type')}: yolov8 wants output [{batch}, 4+{nc}, N] "
                    f"({nc} labels), model gave {list(out.shape)}"
                )
        elif isinstance(decoder, ClassificationDecoder):
            out = outputs[decoder.output or self.output_names[0]]
            if out.ndim != 2 or out.shape[0] != batch or out.shape[1] != nc:
                raise OutputMismatch(
                    f"{self.loaded.where('labels')}: classification wants output [{batch}, {nc}] "
                    f"({nc} labels), model gave {list(out.shape)}"
                )
        else:
            boxes, scores, classes = (outputs[decoder.boxes], outputs[decoder.scores], outputs[decoder.classes])
            if boxes.ndim != 3 or boxes.shape[0] != batch or boxes.shape[2] != 4:
                raise OutputMismatch(
                    f"{self.loaded.where('decoder', 'boxes')}: ssd wants boxes [{batch}, N, 4], got {list(boxes.shape)}"
                )
            n = boxes.shape[1]
            for field, arr in (("scores", scores), ("classes", classes)):
                if arr.shape[:2] != (batch, n) or arr.size != batch * n:
                    raise OutputMismatch(
                        f"{self.loaded.where('decoder', field)}: ssd wants {field} [{batch}, {n}], "
                        f"got {list(arr.shape)}"
                    )

    def decode(self, outputs: Outputs, index: int, params: DecodeParams, transform: FrameTransform) -> list[Detection]:
        decoder = self.manifest.decoder
        if isinstance(decoder, Yolov8Decoder):
            out = outputs[decoder.output or self.output_names[0]][index]
            return decode_yolov8(out, params, transform, decoder.max_detections)
        if isinstance(decoder, ClassificationDecoder):
            out = outputs[decoder.output or self.output_names[0]][index]
            return decode_classification(
                out, params, transform, logits=decoder.activation == "logits", top_k=decoder.top_k
            )
        spec = self.manifest.input
        return decode_ssd(
            outputs[decoder.boxes][index],
            outputs[decoder.scores][index],
            outputs[decoder.classes][index],
            params,
            transform,
            box_format=decoder.box_format,
            input_size=(spec.width, spec.height) if decoder.normalized else None,
            class_offset=decoder.class_offset,
            max_detections=decoder.max_detections,
        )


def _model_path(loaded: LoadedManifest) -> Path:
    try:
        return loaded.model_path()
    except FileNotFoundError as exc:
        raise ModelLoadFailed(f"{loaded.where('file')}: {exc}") from None


def _check_input(loaded: LoadedManifest, session: Any) -> tuple[str, bool]:
    """The graph input named (or first) must take the manifest's shape; returns (name, batch is dynamic)."""
    spec = loaded.manifest.input
    inputs = session.get_inputs()
    by_name = {i.name: i for i in inputs}
    if spec.name is not None and spec.name not in by_name:
        raise InputShapeMismatch(
            f"{loaded.where('input', 'name')}: the model has no input {spec.name!r} (inputs: {', '.join(by_name)})"
        )
    graph_input = by_name[spec.name] if spec.name is not None else inputs[0]
    model_shape = list(graph_input.shape)
    wanted = list(spec.shape)
    fits = len(model_shape) == len(wanted) and all(
        not isinstance(have, int) or have in (want, -1) or (i == 0 and want == -1)
        for i, (have, want) in enumerate(zip(model_shape, wanted, strict=True))
    )
    if not fits:
        raise InputShapeMismatch(
            f"{loaded.where('input', 'shape')}: manifest input.shape {_shape_text(wanted)} does not match the "
            f"model's input {graph_input.name!r} {_shape_text(model_shape)}"
        )
    wanted_type = "tensor(uint8)" if spec.dtype == "uint8" else "tensor(float)"
    if graph_input.type != wanted_type:
        raise InputShapeMismatch(
            f"{loaded.where('input', 'dtype')}: manifest input.dtype {spec.dtype} "
            f"but the model takes {graph_input.type}"
        )
    batch_dynamic = not isinstance(model_shape[0], int) or model_shape[0] == -1
    return graph_input.name, batch_dynamic
