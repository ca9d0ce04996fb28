"""The whole path on a real daemon: a file camera running the shipped blob detector raises a zone alarm,
its privacy-masked snapshot reaches mosquitto alone on ``…/snapshots`` linked to the alarm in ``…/events``;
then an ``update_model`` command over MQTT swaps the model, answers on ``…/cmd-result`` and its
``model_updated`` event comes back up through the pipeline, outbox and uplink."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import zlib
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import load_config
from agent.daemon import Daemon
from tests.fixtures.mosquitto import Collector, Mosquitto, Received
from tests.integration.camera.shipped_blob import candidate, write_video

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

pytestmark = [pytest.mark.camera, pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(150)]
GW = "pole-cam"


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
gateway: {{id: {GW}}}
state_dir: {tmp_path / "state"}
drivers:
  - driver: camera
    name: cams
    cameras:
      - name: north
        source: {write_video(tmp_path / "blob.avi")}
        loop: true
        width: 64
        height: 64
        detect_fps: 5
        motion: {{enabled: false}}
        inference: {{model: blob-detector, models_dir: {tmp_path / "models"}, intra_op_threads: 1}}
        zones:
          - {{name: all, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], classes: [blob], count_alarm_above: 0}}
        snapshots:
          enabled: true
          events: [zone_count_high]
          privacy_regions: [[[0, 0.75], [1, 0.75], [1, 1], [0, 1]]]
uplink: {{host: 127.0.0.1, port: {port}, reconnect_min_s: 0.2, reconnect_max_s: 1}}
commands: {{model_updates: true}}
control: {{socket: {tmp_path / "control.sock"}, group: null}}
"""
    )
    return path


def batch_records(messages: list[Received]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.topic.endswith("/events"):
            payload = m.payload if m.payload[:1] == b"{" else zlib.decompress(m.payload)
            out.extend(orjson.loads(payload)["records"])
    return out


async def wait_for(collector: Collector, predicate: Any, timeout: float = 40.0) -> list[Received]:
    return await asyncio.to_thread(collector.wait_for, predicate, timeout)


def send_command(port: int, payload: dict[str, Any]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(f"edgepost/{GW}/cmd/models", orjson.dumps(payload), qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def snapshots(messages: list[Received]) -> list[dict[str, Any]]:
    return [orjson.loads(m.payload) for m in messages if m.topic == f"edgepost/{GW}/snapshots"]


def kinds(messages: list[Received]) -> list[str]:
    return [str(r.get("ev")) for r in batch_records(messages)]


async def test_snapshot_and_model_update_through_the_daemon(tmp_path: Path) -> None:
    with Mosquitto(tmp_path) as broker, broker.collector("edgepost/#") as sub:
        config_path = write_config(tmp_path, broker.port)
        daemon = Daemon(load_config(config_path), config_path)
        task = asyncio.create_task(daemon.run())
        try:
            messages = await wait_for(sub, lambda msgs: snapshots(msgs) and "zone_count_high" in kinds(msgs))
            picture = snapshots(messages)[0]
            alarm = next(r for r in batch_records(messages) if r.get("ev") == "zone_count_high")

            model_file, manifest, data = await asyncio.to_thread(candidate, tmp_path / "v2", 0.4, "2")
            command = {"id": "u-1", "expires_at": time.time() + 300, "kind": "update_model",
                       "model": "blob-detector", "manifest": str(manifest), "file": str(model_file)}
            await asyncio.to_thread(send_command, broker.port, command)
            messages = await wait_for(sub, lambda msgs: "model_updated" in kinds(msgs)
                                      and any(m.topic.endswith("/cmd-result") for m in msgs))
        finally:
            daemon.request_stop()
            assert await asyncio.wait_for(task, 40) == 0

    assert picture["event_id"] == alarm["data"]["event_id"] and picture["dev"] == alarm["dev"] == "north"
    assert picture["event_kind"] == "zone_count_high" and alarm["pri"] == "alarm"
    assert all(r.get("ev") != "snapshot" for r in batch_records(messages))  # never inside a batch
    image = cv2.imdecode(np.frombuffer(base64.b64decode(picture["jpeg_b64"]), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (64, 64, 3) and int(image[50:, :].max()) <= 12  # privacy band filled
    assert int(image[25:35, :].max()) > 200  # the blob is in the picture

    results = [orjson.loads(m.payload) for m in messages if m.topic.endswith("/cmd-result")]
    assert len(results) == 1 and results[0]["id"] == "u-1" and results[0]["ok"] is True, results
    new_sha = hashlib.sha256(data).hexdigest()
    assert results[0]["result"]["sha256"] == new_sha and results[0]["result"]["cameras"] == ["north"]
    updated = next(r for r in batch_records(messages) if r.get("ev") == "model_updated")
    assert updated["dev"] == "cams" and updated["data"]["sha256"] == new_sha
