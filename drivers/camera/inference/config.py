"""Per-camera inference settings. Imported by config validation on every box: pydantic only."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GraphOptimization = Literal["disabled", "basic", "extended", "all"]


class InferenceConfig(BaseModel):
    """Which model a camera runs and how its (shared) onnxruntime session is built.

    ``model`` names a folder holding a ``manifest.yaml`` (``models/README.md``; your own detector:
    ``docs/custom-detector.md``). Cameras with the same model and session settings share one session,
    and their frames run as one batch when they arrive together.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="folder name under a models dir, or a path to one")
    models_dir: Path | None = Field(
        None, description="searched first; then /var/lib/edgepost/models, then the bundled models/"
    )
    intra_op_threads: int = Field(0, ge=0, le=64, description="0: onnxruntime's default")
    graph_optimization: GraphOptimization = Field("all", description="onnxruntime's graph optimisation level")
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        min_length=1,
        description="tried in order; unavailable ones are skipped with one log line",
    )
    max_batch: int = Field(4, ge=1, le=64, description="frames of several cameras run as one batch")
    batch_window_ms: float = Field(4.0, ge=0.0, le=100.0, description="how long to wait for a fuller batch")
    confidence: float | None = Field(None, gt=0.0, le=1.0, description="overrides the manifest threshold")
    iou: float | None = Field(None, gt=0.0, le=1.0, description="overrides the manifest NMS IoU")
    classes: list[str] | None = Field(None, description="keep only these labels; null: all")

    def session_key(self) -> tuple[object, ...]:
        """Cameras whose configs share this key share one session."""
        return (
            self.model,
            self.models_dir,
            self.intra_op_threads,
            self.graph_optimization,
            tuple(self.providers),
            self.max_batch,
            self.batch_window_ms,
        )
