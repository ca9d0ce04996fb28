"""``edgepost camera snapshot`` with no daemon: the CLI opens the configured source itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli.exit_codes import ExitCode
from agent.cli.main import main

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

pytestmark = pytest.mark.camera


@pytest.fixture
def config(tmp_path: Path) -> Path:
    video = tmp_path / "street.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(10):
        frame = np.zeros((240, 320, 3), np.uint8)
        frame[100:140, 20 + 10 * i : 60 + 10 * i] = (0, 0, 255)  # a red box moving right
        writer.write(frame)
    writer.release()
    path = tmp_path / "config.yaml"
    path.write_text(
        "gateway: {id: pole-c}\n"
        "drivers:\n"
        "  - {driver: camera, name: cams, cameras: [{name: north, source: " + str(video) + "}]}\n"
    )
    return path


def test_snapshot_writes_a_jpeg(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "north.jpg"
    assert main(["-c", str(config), "camera", "snapshot", "north", "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[:2] == b"\xff\xd8"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)
    assert image[120, 40, 2] > 150 and image[120, 40, 0] < 100  # the red box of the first frame


def test_unknown_camera_is_a_usage_error(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config), "camera", "snapshot", "south"]) == ExitCode.USAGE
    assert "north" in capsys.readouterr().err
