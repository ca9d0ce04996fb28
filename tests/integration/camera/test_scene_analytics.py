"""Real MJPG file -> real decode -> real ONNX blob detector through the inference runtime -> analytics.

Frames are taken in order with timestamps from the file's own clock, so counts are exact.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from agent.records import Priority
from drivers.camera.analytics.engine import CameraAnalytics
from drivers.camera.config import CameraConfig
from drivers.camera.inference.config import InferenceConfig
from drivers.camera.inference.pool import load_runner
from tests.integration.camera.blob_model import write_blob_model
from tests.integration.camera.scene import GATE, NOPARKING, PARKED_IN_ZONE_S, write_scene

pytestmark = pytest.mark.camera
FPS = 10.0


@pytest.mark.parametrize("tracker", ["iou", "centroid"])
def test_counts_crossings_and_dwell_exactly(tmp_path: Path, tracker: str) -> None:
    models = tmp_path / "models"
    write_blob_model(models)
    video = write_scene(tmp_path / "scene.avi", FPS)
    runner = load_runner(InferenceConfig(model="blob", models_dir=models))
    camera = CameraConfig.model_validate(
        {
            "name": "cam1",
            "source": str(video),
            "width": 320,
            "height": 192,
            "inference": {"model": "blob", "models_dir": str(models)},
            "tracker": {"method": tracker},
            "zones": [NOPARKING],
            "lines": [GATE],
            "aggregate_period_s": 100.0,
        }
    )
    analytics = CameraAnalytics(camera, start_mono=0.0)
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    events = []
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        detections = runner.infer([frame], [runner.default_params()])[0]
        events += analytics.update(detections, 320, 192, index / FPS)
        index += 1
    capture.release()
    assert index == 75

    # each crossing is an event as it happens (emit_events defaults to true), besides the counts below
    crossings = [(e.data["line"], e.data["direction"], e.data["label"]) for e in events if e.kind == "line_crossing"]
    assert crossings == [("gate", "eastbound", "car"), ("gate", "westbound", "person")]
    events = [e for e in events if e.kind != "line_crossing"]
    kinds = [e.kind for e in events]
    assert kinds == ["illegal_parking", "illegal_parking_cleared"]
    alarm, cleared = events
    assert alarm.priority is Priority.ALARM and alarm.device == "cam1"
    assert alarm.data["zone"] == "noparking" and alarm.data["label"] == "car"
    entered, left = PARKED_IN_ZONE_S
    # fires on the first frame after 3 s in the zone
    assert 3.0 < float(alarm.data["dwell_s"]) <= 3.0 + 1 / FPS + 1e-9
    assert alarm.ts == pytest.approx(entered + 3.0, abs=0.25)
    assert float(cleared.data["dwell_s"]) == pytest.approx(left - entered, abs=0.25)
    assert cleared.data["track_id"] == alarm.data["track_id"]
    assert alarm.data["event_id"] != cleared.data["event_id"]

    readings = {r.point: r.value for r in analytics.flush(7.5)}
    assert readings == {
        "zone.noparking.count.car": 1,
        "zone.noparking.entries.car": 1,
        "line.gate.eastbound.car": 1,
        "line.gate.westbound.car": 0,
        "line.gate.eastbound.person": 0,
        "line.gate.westbound.person": 1,
    }
