"""One way for camera tests to write a detection: ``Det(label, x1, y1, x2, y2)``."""

from __future__ import annotations

from drivers.camera.inference.detection import Detection


def Det(label: str, x1: float, y1: float, x2: float, y2: float, score: float = 0.9, class_id: int = 0) -> Detection:
    return Detection(class_id=class_id, label=label, score=score, x1=x1, y1=y1, x2=x2, y2=y2)
