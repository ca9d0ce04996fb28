"""``edgepost camera snapshot`` with no daemon: the CLI opens the configured source itself."""

from __future__ import annotations

import subprocess
import sys
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


def edgepost(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a technician runs it."""
    script = Path(sys.executable).with_name("edgepost")
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("fourcc", "suffix"), [("MJPG", ".avi"), ("mp4v", ".mp4"), ("XVID", ".avi")])
def test_snapshot_without_daemon_fills_the_privacy_regions(tmp_path: Path, fourcc: str, suffix: str) -> None:
    """The CLI opens the source itself when no daemon runs: the picture it saves is masked exactly like
    the daemon's (a house front inside the configured privacy region comes out black)."""
    video = tmp_path / f"street{suffix}"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*fourcc), 10, (160, 96))
    for i in range(10):
        frame = np.full((96, 160, 3), 50, np.uint8)
        frame[:48, :80] = 255  # a bright house front: inside the privacy region
        frame[60:90, 90 + i : 130 + i] = (0, 0, 255)  # a red car, bottom right
        writer.write(frame)
    writer.release()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"gateway: {{id: pole-c}}\nstate_dir: {tmp_path / 'state'}\n"
        f"control: {{socket: {tmp_path / 'control.sock'}, group: null}}\n"
        "drivers:\n"
        "  - driver: camera\n"
        "    name: cams\n"
        "    cameras:\n"
        f"      - name: north\n        source: {video}\n        width: 160\n        height: 96\n"
        "        snapshots: {enabled: false, jpeg_quality: 90,\n"
        "                    privacy_regions: [[[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]]}\n"
    )
    out = tmp_path / "north.jpg"
    done = edgepost("-c", str(config), "camera", "snapshot", "north", "-o", str(out))
    assert done.returncode == 0, done.stderr
    image = cv2.imdecode(np.frombuffer(out.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (96, 160, 3)
    assert int(image[3:45, 3:77].max()) <= 12  # the house front is filled black
    assert image[75, 110, 2] > 150 and image[75, 110, 0] < 100  # the red car is still there
    assert 40 <= int(image[80, 20].mean()) <= 60  # background outside the region untouched
