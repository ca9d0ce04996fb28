"""Camera snapshots through a real Outbox and mosquitto: alone on ``…/snapshots``, never in ``…/events``."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import orjson
import pytest

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Reading
from agent.uplink.config import UplinkConfig
from tests.fixtures.mosquitto import Mosquitto
from tests.integration.uplink.support import decode_batch, running_uplink, wait_until

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

from drivers.camera.analytics.events import camera_event  # noqa: E402 -- needs cv2/numpy above
from drivers.camera.config import SnapshotConfig  # noqa: E402
from drivers.camera.snapshot import make_snapshot  # noqa: E402

pytestmark = [pytest.mark.network, pytest.mark.camera]
OUTBOX = OutboxConfig(durability=Durability.PROCESS_SAFE)


def scene(shade: int) -> object:
    image = np.full((120, 160, 3), 60, np.uint8)
    image[40:80, 60:100] = (0, 0, shade)  # a red box
    return image


def event_with_snapshot(camera: str, shade: int) -> tuple[Event, Event]:
    event = camera_event(camera, "illegal_parking", time.time(), Priority.ALARM, zone="bus-stop")
    snapshot = make_snapshot(scene(shade), [], SnapshotConfig(enabled=True), event)  # type: ignore[arg-type]
    assert snapshot is not None
    return event, snapshot


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_snapshot_goes_alone_to_its_topic_linked_to_its_event(
    mosquitto: Mosquitto, tmp_path: Path, protocol: str
) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    pairs = [event_with_snapshot("cam1", 200), event_with_snapshot("cam2", 250)]
    try:
        with mosquitto.collector("edgepost/#") as sub:
            records: list[Reading | Event] = [Reading("cam1", "zone.bus-stop.count.car", 1, time.time())]
            for event, snapshot in pairs:
                records += [event, snapshot]
            seqs = await outbox.accept(records)
            config = UplinkConfig(port=mosquitto.port, protocol=protocol)  # type: ignore[arg-type]
            async with running_uplink(config, outbox) as (up, _):
                await wait_until(lambda: up.counters.records_acked == len(records))
                sub.wait_for(lambda msgs: len([m for m in msgs if m.topic.endswith("/snapshots")]) >= 2)
                assert up.counters.snapshots == 2
            stats = await outbox.stats()
            messages = sub.snapshot()
        assert stats.records == 0  # snapshots were deleted on their PUBACK like everything else

        batched = [r for m in messages if m.topic.endswith(("/events", "/telemetry"))
                   for r in decode_batch(m.payload)["records"]]
        assert sorted(r["seq"] for r in batched) == [seqs[0], seqs[1], seqs[3]]  # reading + 2 events
        assert all(r.get("ev") != "snapshot" and "jpeg_b64" not in orjson.dumps(r).decode() for r in batched)
        events_by_id = {r["data"]["event_id"]: r for r in batched if r.get("ev") == "illegal_parking"}

        pictures = [m for m in messages if m.topic == "edgepost/gw1/snapshots"]
        assert len(pictures) == 2 and all(m.qos == 1 for m in pictures)
        for message, (event, snapshot) in zip(sorted(pictures, key=lambda m: orjson.loads(m.payload)["seq"]),
                                              pairs, strict=True):
            doc = orjson.loads(message.payload)
            assert doc["event_id"] == event.data["event_id"] and doc["event_id"] in events_by_id
            assert events_by_id[doc["event_id"]]["dev"] == doc["dev"] == event.device
            assert doc["event_kind"] == "illegal_parking" and doc["content_type"] == "image/jpeg"
            assert doc["gw"] == "gw1" and doc["seq"] in seqs and "topic" not in doc
            jpeg = base64.b64decode(doc["jpeg_b64"])
            assert jpeg == base64.b64decode(str(snapshot.data["jpeg_b64"])) and len(jpeg) == doc["bytes"]
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert image.shape == (120, 160, 3) and image[60, 80, 2] > 150  # the red box is there
            if protocol == "5":
                assert ("event_id", doc["event_id"]) in message.user_properties
                assert ("kind", "snapshot") in message.user_properties
                assert message.content_type == "application/json"
            else:
                assert message.user_properties == ()
    finally:
        await outbox.close()


async def test_snapshot_larger_than_the_payload_limit_becomes_a_stub(mosquitto: Mosquitto, tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "state", OUTBOX, "gw1")
    event, snapshot = event_with_snapshot("cam1", 200)
    big = Event(snapshot.device, "snapshot", snapshot.ts, snapshot.priority,
                {**snapshot.data, "jpeg_b64": "A" * 4000})
    try:
        with mosquitto.collector("edgepost/gw1/snapshots") as sub:
            seqs = await outbox.accept([event, big])
            config = UplinkConfig(port=mosquitto.port, max_payload_bytes=2048)
            async with running_uplink(config, outbox) as (up, _):
                await wait_until(lambda: up.counters.records_acked == 2)
                messages = sub.wait_for(lambda msgs: len(msgs) >= 1)
        doc = orjson.loads(messages[0].payload)
        assert doc["err"] == "record_too_large" and doc["size"] > 4000
        assert doc["seq"] == seqs[1] and doc["event_id"] == event.data["event_id"]
        assert (await outbox.stats()).records == 0
    finally:
        await outbox.close()
