from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.config import load_config, parse_config
from agent.errors import ConfigError
from drivers.camera.config import CameraConfig, CameraDriverConfig, source_kind

ZONE = {"name": "z", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}


def camera(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "cam1", "source": "rtsp://user:pw@10.0.0.5/stream"}
    base.update(over)
    return base


def test_minimal_camera_defaults_are_private_and_gated() -> None:
    cfg = CameraConfig.model_validate(camera())
    assert cfg.snapshots.enabled is False
    assert cfg.motion.enabled is True
    assert cfg.source_kind == "rtsp"


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("rtsp://h/s", "rtsp"),
        ("RTSPS://h/s", "rtsp"),
        ("http://h/mjpg", "http"),
        ("https://h/mjpg", "http"),
        ("/dev/video2", "device"),
        (0, "device"),
        ("/srv/clips/a.mp4", "file"),
    ],
)
def test_source_kinds(source: str | int, kind: str) -> None:
    assert source_kind(source) == kind


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"source": "/dev/sda"}, "/dev/videoN"),
        ({"source": -1}, ">= 0"),
        ({"loop": True}, "file sources only"),
        ({"zones": [ZONE]}, "inference model"),
        ({"reopen_backoff_s": 5, "reopen_backoff_max_s": 1}, "reopen_backoff_max_s"),
        ({"snapshots": {"privacy_regions": [[[0, 0], [1, 1]]]}}, "at least 3"),
        ({"snapshots": {"privacy_regions": [[[0, 0], [0.5, 0.5], [1, 1]]]}}, "no area"),
        ({"motion": {"masks": [[[0, 0], [2, 0], [1, 1]]]}}, "less than or equal to 1"),
    ],
)
def test_invalid_camera(over: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        CameraConfig.model_validate(camera(**over))
    assert needle in str(info.value)


def test_motion_gated_zones_need_forced_inference_within_track_lifetime() -> None:
    inference = {"model": "m"}
    ok = camera(inference=inference, zones=[ZONE])
    CameraConfig.model_validate(ok)
    with pytest.raises(ValidationError, match="force_every_s"):
        CameraConfig.model_validate({**ok, "motion": {"force_every_s": None}})
    with pytest.raises(ValidationError, match="force_every_s"):
        CameraConfig.model_validate({**ok, "motion": {"force_every_s": 5}, "tracker": {"max_missed_s": 2}})
    CameraConfig.model_validate({**ok, "motion": {"enabled": False, "force_every_s": None}})


def test_line_and_zone_names_unique_and_lines_valid() -> None:
    inference = {"model": "m"}
    line = {"name": "z", "points": [[0, 0.5], [1, 0.5]]}
    with pytest.raises(ValidationError, match="unique"):
        CameraConfig.model_validate(camera(inference=inference, zones=[ZONE], lines=[line]))
    with pytest.raises(ValidationError, match="points must differ"):
        CameraConfig.model_validate(camera(inference=inference, lines=[{"name": "l", "points": [[0, 0], [0, 0]]}]))
    with pytest.raises(ValidationError, match="direction names"):
        CameraConfig.model_validate(
            camera(inference=inference, lines=[{**line, "name": "l", "directions": ["a", "a"]}])
        )


def test_camera_names_unique_in_driver() -> None:
    with pytest.raises(ValidationError, match="unique: cam1"):
        CameraDriverConfig.model_validate({"name": "c", "driver": "camera", "cameras": [camera(), camera()]})


def test_agent_config_error_names_file_line_and_field() -> None:
    text = """gateway: {id: gw1}
drivers:
  - name: cams
    driver: camera
    cameras:
      - name: pole1
        source: rtsp://127.0.0.1/cam
        inference: {model: blob}
        zones:
          - name: nopark
            polygon: [[0.1, 0.1], [0.2, 0.2]]
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.yaml")
    problems = "\n".join(info.value.problems)
    assert "site.yaml:11:" in problems
    assert "drivers[0].cameras[0].zones[0].polygon" in problems


def test_config_module_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, drivers.camera.config as c; "
        "print(sorted(m for m in ('cv2', 'numpy', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=".")
    assert out.stdout.strip() == "[]"


def test_unknown_model_is_refused_by_the_config_loader_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "gateway: {id: p}\n"
        "drivers:\n"
        "  - driver: camera\n"
        "    name: cams\n"
        "    cameras:\n"
        "      - name: north\n"
        "        source: /tmp/none.avi\n"
        "        inference: {model: no-such-model}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    [problem] = info.value.problems
    assert problem.startswith(f"{path}:8:21 drivers[0].cameras[0].inference.model: model 'no-such-model' not found")
