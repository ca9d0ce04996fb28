"""Every picture the camera driver writes or sends is encoded in one place, from a masked frame.

``drivers/camera/snapshot.py`` holds the only image encoder and it takes a ``MaskedImage``, which only
``mask_frame`` makes (mypy enforces that). This guards the other half: no other module of the agent or
the drivers encodes or writes an image on its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from drivers.camera.config import CameraConfig
from drivers.camera.still import grab_still

ROOT = Path(__file__).resolve().parents[3]
ENCODERS = re.compile(r"\b(imencode|imwrite|VideoWriter|VideoWriter_fourcc)\s*\(")


def test_only_the_snapshot_module_encodes_images() -> None:
    offenders = {
        str(path.relative_to(ROOT)): len(ENCODERS.findall(path.read_text()))
        for folder in ("agent", "drivers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if ENCODERS.search(path.read_text())
    }
    assert offenders == {"drivers/camera/snapshot.py": 1}


class OneFrame:
    def __init__(self, image: np.ndarray) -> None:
        self.image = image

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray]:
        return True, self.image

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        pass


def test_local_grab_is_masked() -> None:
    frame = np.full((60, 80, 3), 200, np.uint8)
    config = CameraConfig.model_validate({
        "name": "cam", "source": "rtsp://127.0.0.1:9/x",
        "snapshots": {"jpeg_quality": 95, "privacy_regions": [[[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]]},
    })
    jpeg = grab_still(config, opener=lambda _: OneFrame(frame))
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert int(image[:, 42:].max()) <= 12 and int(image[:, :38].min()) >= 190
