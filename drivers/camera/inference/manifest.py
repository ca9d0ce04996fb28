"""``models/<name>/manifest.yaml``: the model file, its sha256, input spec, decoder, labels, licence.

Pydantic only (no numpy/onnxruntime) so ``edgepost model check`` and config validation stay cheap.
Every problem is reported as ``file:line:col field: message``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.yamlsource import YamlDocument, parse_yaml, read_yaml_text, validation_problems
from drivers.camera.inference.errors import ManifestError

MANIFEST_NAME = "manifest.yaml"
PKG_PREFIX = "pkg:"
DECODERS = ("yolov8", "ssd", "classification")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Normalization(_Model):
    """``tensor = (pixel * scale - mean) / std`` per channel, in the model's colour order."""

    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @field_validator("std")
    @classmethod
    def _no_zero_std(cls, std: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(s == 0 for s in std):
            raise ValueError("std must not contain 0")
        return std


class Letterbox(_Model):
    """Keep the aspect ratio and pad; ``anchor: center`` (YOLO) or ``top_left`` (PP-OCR).

    ``fit: contain`` scales the whole frame inside the input. ``fit: height`` always fills the input
    height and keeps the aspect ratio up to the input width, squeezing wider frames (PP-OCR text lines).
    """

    enabled: bool = True
    pad_value: float = Field(114.0, ge=0.0, le=255.0, description="raw pixel value of the padding")
    anchor: Literal["center", "top_left"] = "center"
    fit: Literal["contain", "height"] = "contain"


class InputSpec(_Model):
    name: str | None = Field(None, description="graph input name; null: the first input")
    shape: tuple[int, int, int, int] = Field(description="[batch, C, H, W] or [batch, H, W, C]; batch may be -1")
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    color: Literal["RGB", "BGR"] = "RGB"
    dtype: Literal["float32", "uint8"] = "float32"
    normalization: Normalization = Field(default_factory=Normalization)
    letterbox: Letterbox = Field(default_factory=Letterbox)

    @model_validator(mode="after")
    def _three_channels(self) -> InputSpec:
        channels = self.shape[1] if self.layout == "NCHW" else self.shape[3]
        if channels != 3:
            raise ValueError(f"shape must have 3 channels for layout {self.layout}, got {list(self.shape)}")
        if any(d <= 0 for d in self.shape[1:]):
            raise ValueError(f"shape dims after the batch must be > 0, got {list(self.shape)}")
        if self.shape[0] == 0 or self.shape[0] < -1:
            raise ValueError("the batch dim must be -1 (dynamic) or >= 1")
        return self

    @property
    def height(self) -> int:
        return self.shape[2] if self.layout == "NCHW" else self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[3] if self.layout == "NCHW" else self.shape[2]


class Yolov8Decoder(_Model):
    """Output ``[1, 4 + nc, N]``: cx, cy, w, h in input pixels, then one score per class."""

    type: Literal["yolov8"]
    output: str | None = Field(None, description="output name; null: the first output")
    max_detections: int = Field(300, ge=1)


class SsdDecoder(_Model):
    """Separate boxes ``[1, N, 4]``, scores ``[1, N]`` and classes ``[1, N]`` outputs."""

    type: Literal["ssd"]
    boxes: str = "boxes"
    scores: str = "scores"
    classes: str = "classes"
    box_format: Literal["xyxy", "yxyx", "xywh", "cxcywh"] = "xyxy"
    normalized: bool = Field(True, description="box coordinates are 0..1 of the input size")
    class_offset: int = Field(0, description="added to the raw class id (-1 when 0 is background)")
    max_detections: int = Field(300, ge=1)


class ClassificationDecoder(_Model):
    """Output ``[1, nc]`` of probabilities or logits (softmax applied)."""

    type: Literal["classification"]
    output: str | None = None
    activation: Literal["probs", "logits"] = "probs"
    top_k: int = Field(1, ge=1)


Decoder = Annotated[Yolov8Decoder | SsdDecoder | ClassificationDecoder, Field(discriminator="type")]


class Thresholds(_Model):
    confidence: float = Field(0.25, gt=0.0, le=1.0)
    iou: float = Field(0.45, gt=0.0, le=1.0)


class Provenance(_Model):
    source: str = Field(min_length=1, description="where the file comes from (wheel, URL, build script)")
    url: str | None = None
    notes: str | None = None


class SelfTest(_Model):
    """Optional bundled sample for the self-test; without it a synthetic frame is used."""

    image: str | None = None
    expect_label: str | None = None


class ModelManifest(_Model):
    name: str = Field(min_length=1)
    version: str = "1"
    file: str = Field(min_length=1, description="relative to the manifest, or pkg:<module>/<path>")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    task: Literal["detection", "classification"]
    input: InputSpec
    decoder: Decoder
    labels: list[str] = Field(min_length=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    licence: str = Field(min_length=1)
    provenance: Provenance
    self_test: SelfTest = Field(default_factory=SelfTest)

    @field_validator("decoder", mode="before")
    @classmethod
    def _known_decoder(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("type") not in DECODERS:
            raise ValueError(f"unknown decoder {value.get('type')!r}, expected one of {', '.join(DECODERS)}")
        return value

    @model_validator(mode="after")
    def _task_matches_decoder(self) -> ModelManifest:
        wanted = "classification" if self.decoder.type == "classification" else "detection"
        if self.task != wanted:
            raise ValueError(f"task {self.task!r} does not fit decoder {self.decoder.type!r} (want {wanted!r})")
        return self


@dataclass(frozen=True, slots=True)
class Origin:
    """The user's own files a staged copy was made from (an update): messages name these, not the copies."""

    manifest: Path
    model: Path


class LoadedManifest:
    """A validated manifest plus where it came from, for error messages naming file:line."""

    def __init__(self, manifest: ModelManifest, doc: YamlDocument, path: Path, origin: Origin | None = None) -> None:
        self.manifest = manifest
        self.doc = doc
        self.path = path
        self.origin = origin

    def model_label(self, path: Path, full: bool = False) -> str:
        """How messages name the model file at ``path``: the user's file for a staged copy, else the
        file's name (its full path with ``full``)."""
        if self.origin is not None:
            return str(self.origin.model)
        return str(path) if full else path.name

    def shown(self, path: Path) -> str:
        """How messages name another file of this model folder (a self-test image)."""
        if self.origin is not None and path.parent == self.folder:
            return str(self.origin.manifest.parent / path.name)
        return str(path)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def where(self, *field: str | int) -> str:
        """``/models/x/manifest.yaml:4:1 sha256`` for messages about one field."""
        dotted = ".".join(str(f) for f in field)
        return f"{self.doc.where(field)} {dotted}"

    def model_path(self) -> Path:
        return resolve_model_file(self.manifest.file, self.folder)


def resolve_model_file(file: str, folder: Path) -> Path:
    """``pkg:module/sub/x.onnx`` points inside an installed package (found without importing it)."""
    if file.startswith(PKG_PREFIX):
        module, _, rest = file[len(PKG_PREFIX) :].partition("/")
        spec = importlib.util.find_spec(module) if module else None
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"package {module!r} is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / rest
    return folder / file


def load_manifest(path: Path, origin: Origin | None = None) -> LoadedManifest:
    """Parse and validate one manifest; raise ``ManifestError`` with ``file:line:col field: msg``.

    With ``origin`` (``path`` is a staged copy), messages name ``origin.manifest`` and ``origin.model``."""
    source = str(origin.manifest if origin is not None else path)
    try:
        doc = parse_yaml(read_yaml_text(path, source), source)
    except ValueError as exc:
        raise ManifestError([str(exc)]) from None
    if not isinstance(doc.data, dict):
        raise ManifestError([f"{source}:1:1 <document>: expected a mapping"])
    try:
        manifest = ModelManifest.model_validate(doc.data)
    except ValidationError as exc:
        raise ManifestError(validation_problems(doc, exc)) from None
    return LoadedManifest(manifest, doc, path, origin)
