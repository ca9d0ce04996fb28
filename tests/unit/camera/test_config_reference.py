"""``docs/camera-config.md`` is generated from the camera config models and cannot drift from them: the
committed file is the generator's output, its example validates, and what it says about lines holds."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML

from drivers.camera.analytics.engine import CameraAnalytics
from drivers.camera.config import CameraConfig, CameraDriverConfig
from tests.unit.camera.dets import Det

ROOT = Path(__file__).resolve().parents[3]
GENERATOR = ROOT / "docs" / "gen_camera_reference.py"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_camera_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_the_generators_output() -> None:
    committed = (ROOT / "docs" / "camera-config.md").read_text(encoding="utf-8")
    assert committed == generator().render(), "run .venv/bin/python docs/gen_camera_reference.py"
    check = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0, check.stderr


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    seen.add(model)
    for field in model.model_fields.values():
        stack: list[Any] = [field.annotation]
        while stack:
            item = stack.pop()
            if isinstance(item, type) and issubclass(item, BaseModel) and item not in seen:
                _models(item, seen)
            stack.extend(typing.get_args(item))
    return seen


def test_every_key_of_every_camera_model_is_in_the_reference() -> None:
    text = (ROOT / "docs" / "camera-config.md").read_text(encoding="utf-8")
    models = _models(CameraDriverConfig, set())
    assert {m for _, m, _ in generator().SECTIONS} == models
    for model in models:
        for name in model.model_fields:
            assert f"| `{name}` |" in text, f"{model.__name__}.{name}"
    assert "| `emit_events` | bool | `true` |" in text


def example() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(generator().EXAMPLE)
    return data


def test_the_full_example_is_a_valid_camera_config() -> None:
    entry = CameraDriverConfig.model_validate(example()["drivers"][0])
    camera = entry.cameras[0]
    assert {z.name for z in camera.zones} == {"bus-stop", "crossing-queue"}
    assert camera.snapshots.enabled and camera.snapshots.privacy_regions


def _crossing(line: dict[str, Any], path: list[tuple[float, float]]) -> list[str]:
    """Directions of the line_crossing events of one object moving along ``path`` (normalised)."""
    camera = CameraConfig.model_validate({
        "name": "cam", "source": "/clips/a.avi", "inference": {"model": "m"}, "motion": {"enabled": False},
        "tracker": {"method": "centroid", "max_distance": 0.5}, "lines": [{**line, "classes": [], "emit_events": True}],
    })
    analytics = CameraAnalytics(camera)
    events = []
    for t, (x, y) in enumerate(path):
        box = Det("car", x * 100 - 2, y * 100 - 2, x * 100 + 2, y * 100 + 2)
        events += analytics.update([box], 100, 100, float(t))
    return [str(e.data["direction"]) for e in events if e.kind == "line_crossing"]


def test_the_documented_directions_are_the_ones_counted() -> None:
    lane, footpath = example()["drivers"][0]["cameras"][0]["lines"]
    # drawn bottom to top: moving right in the picture is directions[0]
    assert _crossing(lane, [(0.3, 0.6), (0.45, 0.6), (0.55, 0.6), (0.7, 0.6)]) == ["eastbound"]
    assert _crossing(lane, [(0.7, 0.6), (0.55, 0.6), (0.45, 0.6), (0.3, 0.6)]) == ["westbound"]
    # drawn left to right: moving down in the picture is directions[0]
    assert _crossing(footpath, [(0.2, 0.3), (0.2, 0.42), (0.2, 0.48), (0.2, 0.6)]) == ["southbound"]
    assert _crossing(footpath, [(0.2, 0.6), (0.2, 0.48), (0.2, 0.42), (0.2, 0.3)]) == ["northbound"]
    text = (ROOT / "docs" / "camera-config.md").read_text(encoding="utf-8")
    assert "`directions[0]` names a crossing **from the left side of the line to its right side" in text
