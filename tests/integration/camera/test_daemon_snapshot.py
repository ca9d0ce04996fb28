"""``camera_snapshot`` on the control socket of a real daemon running a file camera: the newest frame,
with the camera's fixed privacy regions filled black even though snapshots are not enabled."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from agent.config import load_config
from agent.control.client import ControlClient, RemoteError
from agent.control.protocol import SnapshotRequest
from agent.daemon import Daemon

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

pytestmark = [pytest.mark.camera, pytest.mark.timeout(90)]
W, H = 160, 96


def write_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for i in range(20):
        frame = np.full((H, W, 3), 50, np.uint8)
        frame[: H // 2, : W // 2] = 255  # a bright house front: inside the privacy region
        frame[60:90, 90 + i : 130 + i] = (0, 0, 255)  # a red car, bottom right
        writer.write(frame)
    writer.release()
    return path


def write_config(tmp_path: Path, video: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
gateway: {{id: pole-snap}}
state_dir: {tmp_path / "state"}
drivers:
  - driver: camera
    name: cams
    cameras:
      - name: north
        source: {video}
        loop: true
        width: {W}
        height: {H}
        detect_fps: 2
        motion: {{enabled: false}}
        snapshots:
          enabled: false
          jpeg_quality: 90
          privacy_regions: [[[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]]
uplink: {{enabled: false}}
control: {{socket: {tmp_path / "control.sock"}, group: null}}
"""
    )
    return path


async def snapshot_when_ready(socket: Path, camera: str, timeout: float = 30.0) -> bytes:
    async with asyncio.timeout(timeout):
        while True:
            try:
                async with ControlClient(socket) as client:
                    result = await client.call(SnapshotRequest(camera=camera))
            except RemoteError as exc:
                if exc.kind != "DeviceTimeout":  # no frame yet while the file opens
                    raise
            else:
                assert isinstance(result, dict) and isinstance(result["jpeg_base64"], str)
                return base64.b64decode(result["jpeg_base64"])
            await asyncio.sleep(0.2)


async def test_snapshot_of_a_running_camera_has_its_privacy_regions_filled(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, write_video(tmp_path / "street.avi"))
    daemon = Daemon(load_config(config_path), config_path)
    task = asyncio.create_task(daemon.run())
    socket = tmp_path / "control.sock"
    try:
        async with asyncio.timeout(30):
            while not socket.exists():  # noqa: ASYNC110 -- the daemon creates it when it is up
                await asyncio.sleep(0.05)
        jpeg = await snapshot_when_ready(socket, "north")
        with pytest.raises(RemoteError) as unknown:
            async with ControlClient(socket) as client:
                await client.call(SnapshotRequest(camera="south"))
    finally:
        daemon.request_stop()
        assert await asyncio.wait_for(task, 30) == 0

    assert jpeg[:2] == b"\xff\xd8"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (H, W, 3)
    assert int(image[3 : H // 2 - 3, 3 : W // 2 - 3].max()) <= 12  # the bright front is filled black
    assert image[75, 125, 2] > 150 and image[75, 125, 0] < 100  # the red car is still there
    assert 40 <= int(image[80, 20].mean()) <= 60  # background outside the region untouched
    assert "south" in str(unknown.value)
