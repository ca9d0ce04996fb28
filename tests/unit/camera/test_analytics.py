from __future__ import annotations

from typing import Any

import pytest

from agent.records import Priority
from drivers.camera.analytics.engine import CameraAnalytics
from drivers.camera.analytics.geometry import Box, iou, point_in_polygon, segments_intersect, side_of_line
from drivers.camera.analytics.tracker import Observation, Tracker
from drivers.camera.config import CameraConfig
from tests.unit.camera.dets import Det

W, H = 100, 100




def box_at(label: str, cx: float, cy: float, size: float = 10) -> Det:
    return Det(label, cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)


def analytics(**over: Any) -> CameraAnalytics:
    cfg: dict[str, Any] = {
        "name": "cam",
        "source": "/clips/a.avi",
        "inference": {"model": "m"},
        "motion": {"enabled": False},
        "aggregate_period_s": 10.0,
    }
    cfg.update(over)
    return CameraAnalytics(CameraConfig.model_validate(cfg))


def test_geometry() -> None:
    assert iou(Box(0, 0, 2, 2), Box(1, 0, 3, 2)) == pytest.approx(1 / 3)
    assert iou(Box(0, 0, 1, 1), Box(2, 2, 3, 3)) == 0.0
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert point_in_polygon((0.5, 0.5), square)
    assert not point_in_polygon((1.5, 0.5), square)
    a, b = (0.5, 1.0), (0.5, 0.0)  # pointing up the image: right-hand side is east
    assert side_of_line((0.9, 0.5), a, b) > 0 > side_of_line((0.1, 0.5), a, b)
    assert segments_intersect((0.1, 0.5), (0.9, 0.5), a, b)
    assert not segments_intersect((0.1, 1.5), (0.9, 1.5), a, b)


def test_tracker_matches_same_label_and_drops_stale() -> None:
    tracker = Tracker("iou", min_iou=0.2, max_missed_s=1.0)
    car = Observation("car", Box(0.1, 0.1, 0.3, 0.3), 0.9)
    seen, _ = tracker.update([car], 0.0)
    first_id = seen[0].track_id
    moved = Observation("car", Box(0.12, 0.1, 0.32, 0.3), 0.9)
    person_same_place = Observation("person", Box(0.12, 0.1, 0.32, 0.3), 0.9)
    seen, _ = tracker.update([moved, person_same_place], 0.5)
    ids = {t.label: t.track_id for t in seen}
    assert ids["car"] == first_id and ids["person"] != first_id
    _, dropped = tracker.update([], 2.0)
    assert {t.label for t in dropped} == {"car", "person"} and not tracker.tracks


def test_centroid_tracker_follows_a_fast_object_iou_loses() -> None:
    frames = [Observation("car", Box(x, 0.4, x + 0.05, 0.45), 0.9) for x in (0.1, 0.2, 0.3)]
    for method, tracks in (("iou", 3), ("centroid", 1)):
        tracker = Tracker(method, min_iou=0.2, max_distance=0.15)  # type: ignore[arg-type]
        for t, obs in enumerate(frames):
            tracker.update([obs], float(t))
        assert tracker._next_id - 1 == tracks


def test_line_counts_direction_once_per_crossing_and_ignores_beyond_ends() -> None:
    line = {"name": "gate", "points": [[0.5, 0.6], [0.5, 0.2]], "directions": ["east", "west"], "emit_events": True}
    a = analytics(lines=[line], tracker={"method": "centroid"})
    events = []
    for t, x in enumerate([20, 40, 50, 60, 80]):  # east through the segment, touching the line at x=50
        events += a.update([box_at("car", x, 40)], W, H, float(t))
    for t, x in enumerate([80, 60, 40], start=10):  # west below the segment's end: not a crossing
        a.update([box_at("bike", x, 90)], W, H, float(t))
    for t, x in enumerate([60, 45, 55, 45], start=20):  # west, back east, west again: three crossings
        a.update([box_at("person", x, 30)], W, H, float(t))
    counts = {r.point: r.value for r in a.flush(30.0) if r.value}  # the published count readings
    assert counts == {"line.gate.east.car": 1, "line.gate.west.person": 2, "line.gate.east.person": 1}
    assert [(e.kind, e.data["direction"], e.data["label"]) for e in events] == [("line_crossing", "east", "car")]


def test_a_crossing_is_an_event_by_default_and_only_counted_when_asked() -> None:
    """A city expects a crossing to be reported as it happens; ``emit_events: false`` keeps only the counts."""
    line = {"name": "gate", "points": [[0.5, 1.0], [0.5, 0.0]], "directions": ["east", "west"]}
    for emit, expected in ((None, [("line_crossing", "east")]), (False, [])):
        cfg = dict(line) if emit is None else {**line, "emit_events": emit}
        a = analytics(lines=[cfg], tracker={"method": "centroid"})
        events = []
        for t, x in enumerate([30, 45, 55, 70]):
            events += a.update([box_at("car", x, 50)], W, H, float(t))
        assert [(e.kind, e.data["direction"]) for e in events] == expected
        assert {r.point: r.value for r in a.flush(5.0)}["line.gate.east.car"] == 1


def test_dwell_alarm_once_after_limit_then_cleared() -> None:
    zone = {"name": "bay", "polygon": [[0.6, 0.5], [1, 0.5], [1, 1], [0.6, 1]], "classes": ["car"], "dwell_alarm_s": 5}
    a = analytics(zones=[zone], tracker={"method": "centroid"})
    events = []
    for t in range(0, 7):  # parked from t=0 (inside), the alarm is due once dwell > 5 s
        events += a.update([box_at("car", 70, 75), box_at("person", 80, 80)], W, H, float(t))
    assert [e.kind for e in events] == ["illegal_parking"]
    alarm = events[0]
    assert alarm.ts == 6.0 and alarm.data["dwell_s"] == 6.0 and alarm.priority is Priority.ALARM
    assert alarm.data["label"] == "car" and alarm.data["zone"] == "bay"
    left = a.update([box_at("car", 55, 75)], W, H, 7.0)
    assert [(e.kind, e.data["dwell_s"], e.priority) for e in left] == [("illegal_parking_cleared", 7.0, Priority.EVENT)]


def expire_until(a: CameraAnalytics, start: float, end: float, step: float = 0.5) -> list[tuple[float, str]]:
    """Frames analysed without an inference (nothing moved) every ``step`` from ``start`` to ``end``."""
    out: list[tuple[float, str]] = []
    t = start
    while t <= end + 1e-9:
        out += [(t, e.kind) for e in a.expire(t)]
        t += step
    return out


def test_dwell_checked_without_new_inference_and_dropped_track_clears() -> None:
    zone = {"name": "bay", "polygon": [[0, 0], [1, 0], [1, 1]], "dwell_alarm_s": 1.5}
    a = analytics(zones=[zone], tracker={"max_missed_s": 3})
    assert a.update([box_at("car", 80, 20)], W, H, 0.0) == []
    # nothing moved, the track is still there; then unseen for more than 3 s of frames: dropped
    assert expire_until(a, 0.5, 3.5) == [(2.0, "illegal_parking"), (3.5, "illegal_parking_cleared")]


def test_count_threshold_alarm_and_clear() -> None:
    zone = {"name": "smoke", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "classes": ["smoke"],
            "count_alarm_above": 0, "count_event": "smoke_detected"}
    a = analytics(zones=[zone], tracker={"max_missed_s": 1})
    assert a.update([box_at("car", 50, 50)], W, H, 0.0) == []
    raised = a.update([box_at("smoke", 50, 50)], W, H, 1.0)
    assert [(e.kind, e.priority, e.data["count"]) for e in raised] == [("smoke_detected", Priority.ALARM, 1)]
    assert a.update([box_at("smoke", 50, 50)], W, H, 1.5) == []  # still on: no repeat
    assert expire_until(a, 2.0, 3.0) == [(3.0, "smoke_detected_cleared")]  # unseen for > 1 s of frames


def test_aggregates_per_period_peak_entries_and_reset() -> None:
    zone = {"name": "z", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    line = {"name": "l", "points": [[0.5, 1], [0.5, 0]]}
    a = analytics(zones=[zone], lines=[line], tracker={"method": "centroid"})
    assert a.aggregates_due(0.0) == []  # starts the clock
    a.update([box_at("car", 40, 20), box_at("person", 30, 70)], W, H, 1.0)
    a.update([box_at("car", 55, 20), box_at("person", 30, 70)], W, H, 2.0)
    assert a.aggregates_due(9.9) == []
    first = {r.point: r.value for r in a.aggregates_due(10.0)}
    assert first == {
        "zone.z.count.car": 1, "zone.z.entries.car": 1, "zone.z.count.person": 1, "zone.z.entries.person": 1,
        "line.l.in.car": 1, "line.l.out.car": 0,
    }
    second = {r.point: r.value for r in a.aggregates_due(20.0)}
    assert second["line.l.in.car"] == 0 and second["zone.z.entries.car"] == 0
    assert second["zone.z.count.car"] == 1  # still there (tracks live until dropped)


def test_inference_classes_filter_detections() -> None:
    a = analytics(inference={"model": "m", "classes": ["car"]})
    assert [o.label for o in a.observations([box_at("car", 5, 5), box_at("dog", 5, 5)], W, H)] == ["car"]


def test_wall_clock_step_does_not_fake_a_dwell_alarm() -> None:
    zone = {"name": "bay", "polygon": [[0, 0], [1, 0], [1, 1]], "dwell_alarm_s": 10}
    a = analytics(zones=[zone])
    assert a.update([box_at("car", 80, 20)], W, H, ts=1_000.0, mono=5.0) == []
    events = []
    for second in range(1, 12):  # one frame a second; NTP stepped the wall clock before the first
        events += a.update([box_at("car", 80, 20)], W, H, ts=1_000_000.0 + second, mono=5.0 + second)
    assert [(e.kind, e.ts, e.data["dwell_s"]) for e in events] == [("illegal_parking", 1_000_011.0, 11.0)]
