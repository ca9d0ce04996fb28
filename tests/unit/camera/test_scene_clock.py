"""Scene time: an outage (no analysed frames) neither ages tracks nor dwell timers, and the aggregate
periods that contain it are not good."""

from __future__ import annotations

from typing import Any

from agent.records import Quality
from drivers.camera.analytics.engine import CameraAnalytics
from drivers.camera.config import CameraConfig
from tests.unit.camera.dets import Det

W, H = 100, 100
ZONE = {"name": "bay", "polygon": [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]], "classes": ["car"], "dwell_alarm_s": 5}
CAR = Det("car", 65, 65, 85, 85)


def analytics(**over: Any) -> CameraAnalytics:
    cfg: dict[str, Any] = {
        "name": "cam", "source": "rtsp://127.0.0.1/x", "inference": {"model": "m"}, "motion": {"enabled": False},
        "zones": [ZONE], "tracker": {"max_missed_s": 3.0}, "aggregate_period_s": 10.0,
    }
    cfg.update(over)
    return CameraAnalytics(CameraConfig.model_validate(cfg), start_mono=0.0)


def feed(a: CameraAnalytics, start: float, end: float, dets: list[Det], step: float = 0.2) -> list[tuple[float, Any]]:
    out = []
    for i in range(round((end - start) / step) + 1):
        t = start + i * step
        out += [(round(t, 3), e) for e in a.update(dets, W, H, t)]
    return out


def test_car_parked_through_an_outage_keeps_its_track_and_dwell() -> None:
    a = analytics()
    assert feed(a, 0.0, 2.0, [CAR]) == []  # parked 2 s, then the stream dies for 98 s
    events = feed(a, 100.0, 110.0, [CAR])
    assert [(t, e.kind) for t, e in events] == [(101.6, "illegal_parking")]  # 2 + 1.5 (at most) + 1.6 > 5 s
    assert events[0][1].data["dwell_s"] == 5.1 and events[0][1].data["track_id"] == 1


def test_alarm_raised_before_the_outage_is_not_cleared_by_it_nor_raised_again() -> None:
    a = analytics()
    raised = feed(a, 0.0, 6.0, [CAR])
    assert [e.kind for _, e in raised] == ["illegal_parking"]
    assert feed(a, 600.0, 620.0, [CAR]) == []  # ten minutes blind, then the same car, still there


def test_car_gone_when_the_stream_returns_is_cleared_after_the_grace_of_watched_time() -> None:
    a = analytics()
    feed(a, 0.0, 6.0, [CAR])
    events = feed(a, 100.0, 105.0, [])  # back, the bay is empty: dropped once unseen 3 s of scene time
    assert [(t, e.kind) for t, e in events] == [(101.6, "illegal_parking_cleared")]


def test_aggregate_quality_follows_what_the_camera_watched() -> None:
    a = analytics()
    qualities = []
    for window_end, frames in ((10.0, (0.0, 5.0)), (20.0, None), (30.0, (25.0, 30.0)), (40.0, (30.2, 40.0))):
        if frames is not None:
            feed(a, frames[0], frames[1], [CAR])
        readings = a.aggregates_due(window_end, window_end)
        qualities.append({r.quality for r in readings})
    assert qualities == [{Quality.BAD}, {Quality.STALE}, {Quality.BAD}, {Quality.GOOD}]


def test_a_camera_that_never_delivered_publishes_stale_counts() -> None:
    a = analytics()
    readings = a.aggregates_due(10.0, 10.0)
    assert readings and {r.quality for r in readings} == {Quality.STALE}
