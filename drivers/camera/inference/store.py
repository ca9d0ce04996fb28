"""Where models live on disk: ``<dir>/<name>/manifest.yaml`` or, after an OTA update, ``<dir>/<name>/current/``.

Search order: the configured dir, ``/var/lib/edgepost/models`` (written by updates), then the shipped
models: the repo's ``models/``, ``<venv>/share/edgepost/models`` and ``/usr/share/edgepost/models`` (the .deb).
"""

from __future__ import annotations

import sys
from pathlib import Path

from drivers.camera.inference.errors import ModelNotFound
from drivers.camera.inference.manifest import MANIFEST_NAME

STATE_MODELS_DIR = Path("/var/lib/edgepost/models")
BUNDLED_MODELS_DIR = Path(__file__).resolve().parents[3] / "models"
SHIPPED_MODELS_DIRS = (
    BUNDLED_MODELS_DIR,
    Path(sys.prefix) / "share" / "edgepost" / "models",
    Path("/usr/share/edgepost/models"),
)
CURRENT = "current"


def search_dirs(models_dir: Path | None = None) -> list[Path]:
    dirs = [models_dir] if models_dir is not None else []
    for extra in (STATE_MODELS_DIR, *SHIPPED_MODELS_DIRS):
        if extra not in dirs:
            dirs.append(extra)
    return dirs


def _manifest_in(folder: Path) -> Path | None:
    for candidate in (folder / CURRENT / MANIFEST_NAME, folder / MANIFEST_NAME):
        if candidate.is_file():
            return candidate
    return None


def find_manifest(model: str, models_dir: Path | None = None) -> Path:
    """A model name (folder under a models dir), a model folder, or a manifest file -> the manifest path."""
    as_path = Path(model)
    if model.endswith((".yaml", ".yml")) and as_path.is_file():
        return as_path
    if ("/" in model or model.startswith(".")) and as_path.is_dir():
        found = _manifest_in(as_path)
        if found is not None:
            return found
        raise ModelNotFound(f"{as_path}: no {MANIFEST_NAME} in this folder")
    if "/" not in model:
        for folder in search_dirs(models_dir):
            found = _manifest_in(folder / model)
            if found is not None:
                return found
    searched = ", ".join(str(d) for d in search_dirs(models_dir))
    raise ModelNotFound(f"model {model!r} not found (no {model}/{MANIFEST_NAME} in {searched})")


def update_dir(models_dir: Path | None = None) -> Path:
    """Where OTA updates are written: the configured dir or ``/var/lib/edgepost/models``."""
    return models_dir if models_dir is not None else STATE_MODELS_DIR
