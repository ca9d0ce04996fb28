"""The shipped ``models/blob-detector``: a real new version of it (another threshold) and a video it sees."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

SHIPPED = Path(__file__).resolve().parents[3] / "models" / "blob-detector"
SIZE = 64


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("blob_build", SHIPPED / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def candidate(folder: Path, threshold: float, version: str) -> tuple[Path, Path, bytes]:
    """A real new blob-detector version (another brightness threshold), with its manifest."""
    data: bytes = load_builder().build(threshold=threshold).SerializeToString()
    folder.mkdir(parents=True)
    (folder / "blob.onnx").write_bytes(data)
    text = (SHIPPED / "manifest.yaml").read_text()
    old_sha = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("sha256:"))
    text = text.replace(old_sha, hashlib.sha256(data).hexdigest()).replace('version: "1"', f'version: "{version}"')
    (folder / "manifest.yaml").write_text(text)
    return folder / "blob.onnx", folder / "manifest.yaml", data


def write_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (SIZE, SIZE))
    for i in range(10):
        frame = np.full((SIZE, SIZE, 3), 20, np.uint8)
        frame[20:40, 10 + 2 * i : 30 + 2 * i] = 255  # the blob the detector finds
        writer.write(frame)
    writer.release()
    return path
