"""Typed errors of the inference runtime; each names the manifest field or the frame at fault."""

from __future__ import annotations

from agent.errors import ModelError, TransientError


class ManifestError(ModelError):
    """A manifest is unreadable or invalid. ``problems`` holds one ``file:line:col field: message`` each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ModelNotFound(ModelError):
    """No ``<name>/manifest.yaml`` in any models directory."""


class ChecksumMismatch(ModelError):
    """The model file's sha256 is not the one the manifest declares."""


class InputShapeMismatch(ModelError):
    """The ONNX graph's input does not match ``input.shape``/``input.name`` of the manifest."""


class ModelLoadFailed(ModelError):
    """onnxruntime refused the file (corrupt, unsupported operator, wrong input type)."""


class OutputMismatch(ModelError):
    """The model's outputs do not fit the decoder the manifest names (shape, names, label count)."""


class SelfTestFailed(ModelError):
    """A new model did not pass its self-test on a sample frame."""


class BadFrame(ModelError):
    """A frame handed to ``detect`` is not an HxWx3 uint8 BGR image."""


class InferenceFailed(TransientError):
    """onnxruntime failed while running a loaded model."""


class PoolClosed(TransientError):
    """The session pool was closed while a request was pending."""
