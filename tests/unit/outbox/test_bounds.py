"""TTL expiry, eviction order, reject-new, purge; each removal reported as gap events with exact numbers."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from agent.outbox import bounds
from agent.outbox.codec import encode
from agent.outbox.config import FullPolicy
from agent.records import Event, Priority, Reading
from tests.unit.outbox.conftest import FakeClock, all_rows, commit

MIB = 1 << 20


def _gap_events(engine: Any) -> list[dict[str, Any]]:
    rows = engine.conn.execute("SELECT device, body FROM records WHERE priority = 1 ORDER BY seq").fetchall()
    out = []
    for device, body in rows:
        kind, data = orjson.loads(body)
        if kind == "gap":
            assert data["device"] == device
            out.append(data)
    return out


def test_ttl_expiry_removes_old_records_and_reports_gap(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine(ttl_s=3600, expiry_interval_s=60)
    t0 = clock.now
    commit(engine, [Reading("m1", "v", float(i), t0 + i) for i in range(5)])
    commit(engine, [Reading("m2", "v", 9.0, t0 + 7)])
    clock.now += 1800
    fresh = commit(engine, [Reading("m1", "v", 1.0, clock.now)])
    clock.now = t0 + 3600 + 61  # the first two batches are past their TTL, the third is not
    engine.housekeeping()
    gaps = sorted(_gap_events(engine), key=lambda g: g["device"])
    assert gaps == [
        {"device": "m1", "first_ts": t0, "last_ts": t0 + 4, "count": 5, "reason": "expired"},
        {"device": "m2", "first_ts": t0 + 7, "last_ts": t0 + 7, "count": 1, "reason": "expired"},
    ]
    telemetry = [r[0] for r in all_rows(engine) if r[1] == Priority.TELEMETRY]
    assert telemetry == fresh
    assert engine.expired_total == 6


def _fill(engine: Any, clock: FakeClock, n: int, device: str) -> dict[int, tuple[str, float]]:
    """Commit ``n`` fat readings in batches of 500; returns seq -> (device, ts)."""
    sent: dict[int, tuple[str, float]] = {}
    for start in range(0, n, 500):
        clock.now += 1
        batch = [Reading(device, "v", "x" * 200, clock.now) for _ in range(min(500, n - start))]
        sent.update({seq: (device, clock.now) for seq in commit(engine, batch)})
        engine.housekeeping()  # the writer thread runs this after every commit
    return sent


def test_eviction_takes_oldest_telemetry_first_and_reports_exact_gaps(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine(max_bytes=MIB, full_policy=FullPolicy.EVICT_OLDEST_TELEMETRY)
    alarm = commit(engine, [Event("m1", "tamper", clock.now, Priority.ALARM, {"x": 1})])
    event = commit(engine, [Event("m2", "online", clock.now)])
    sent = _fill(engine, clock, 2000, "m1") | _fill(engine, clock, 2000, "m2")
    for _ in range(6):
        sent |= _fill(engine, clock, 1000, "m1")
    assert engine.evicted_total > 0
    assert engine.used <= MIB
    present = {r[0] for r in all_rows(engine)}
    assert alarm[0] in present and event[0] in present  # telemetry went first
    missing = sorted(set(sent) - present)
    assert missing == sorted(sent)[: len(missing)]  # oldest first, no holes
    gaps = _gap_events(engine)
    assert all(g["reason"] == "evicted" for g in gaps)
    assert sum(g["count"] for g in gaps) == len(missing) == engine.evicted_total
    by_device = Counter(sent[s][0] for s in missing)
    assert {g["device"] for g in gaps} == set(by_device)
    for device, count in by_device.items():
        rounds = [g for g in gaps if g["device"] == device]
        assert sum(g["count"] for g in rounds) == count
        lost_ts = [sent[s][1] for s in missing if sent[s][0] == device]
        assert min(g["first_ts"] for g in rounds) == min(lost_ts)
        assert max(g["last_ts"] for g in rounds) == max(lost_ts)


def test_eviction_order_events_then_alarms(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine()
    commit(engine, [Event("a", "x", 1.0, Priority.ALARM), Event("e", "y", 2.0, Priority.EVENT)])
    commit(engine, [Reading("t", "v", 1.0, 3.0), Reading("t", "v", 2.0, 4.0)])
    conn = engine.conn
    conn.execute("BEGIN")
    gaps = bounds.evict(conn, 3)
    conn.execute("COMMIT")
    assert sorted((g.device, g.count) for g in gaps) == [("e", 1), ("t", 2)]
    left = [(r[1], r[2]) for r in all_rows(engine)]
    assert left == [(Priority.ALARM, "a")]


def test_reject_new_refuses_telemetry_keeps_a_reserve_for_alarms_and_reports_a_gap(
    make_engine: Any, clock: FakeClock
) -> None:
    engine = make_engine(max_bytes=MIB, full_policy=FullPolicy.REJECT_NEW)
    rows = [encode(Reading(f"m{i % 2}", "v", "x" * 200, clock.now)) for i in range(500)]
    stored: list[int] = []
    refused = 0
    for _ in range(100):
        [result] = engine.commit([rows], []).accepts
        engine.housekeeping()
        assert isinstance(result, list)
        stored += [s for s in result if s is not None]
        refused += result.count(None)
        if refused:
            break
    assert refused and engine.evicted_total == 0
    assert engine.space.used < engine.space.page_budget  # stopped short of the cap: the reserve is free
    clock.now += 1
    alarm = Event("m1", "door_open", clock.now, Priority.ALARM, {"open": True})
    [mixed] = engine.commit([[encode(Reading("m1", "v", 1.0, clock.now)), encode(alarm)]], []).accepts
    assert isinstance(mixed, list) and mixed[0] is None and isinstance(mixed[1], int)  # the alarm got in
    refused += 1
    assert engine.rejections.total == refused
    assert _gap_events(engine) == []  # announced once refusals end (or after a while), not per commit

    assert engine.commit([], [stored[: len(stored) // 2]]).deletes == [None]  # the uplink drains: room again
    engine.housekeeping()
    clock.now += 1
    [after] = engine.commit([[encode(Reading("m1", "v", 2.0, clock.now))]], []).accepts
    assert isinstance(after, list) and isinstance(after[0], int)
    gaps = _gap_events(engine)
    assert {g["reason"] for g in gaps} == {"rejected"} and {g["device"] for g in gaps} == {"m0", "m1"}
    assert sum(g["count"] for g in gaps) == refused


def test_reject_new_refuses_alarms_too_once_the_reserve_is_full(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine(max_bytes=MIB, full_policy=FullPolicy.REJECT_NEW)
    alarms = [encode(Event("m1", "a", clock.now, Priority.ALARM, {"x": "y" * 200})) for _ in range(500)]
    for _ in range(100):
        [result] = engine.commit([alarms], []).accepts
        engine.housekeeping()
        assert isinstance(result, list)
        if None in result:
            break
    assert engine.space.used >= engine.space.page_budget and engine.rejections.total > 0
    engine.finish()  # a clean close writes what is only counted (one small gap event per device)
    [gap] = _gap_events(engine)
    assert gap["reason"] == "rejected" and gap["count"] == engine.rejections.total


def test_purge_reports_gap_and_count(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine()
    commit(engine, [Reading("m1", "v", 1.0, 10.0), Reading("m2", "v", 1.0, 11.0), Reading("m1", "v", 2.0, 12.0)])
    assert engine.purge("m1", before=12.0) == 1
    assert engine.purge("nobody", None) == 0
    [gap] = _gap_events(engine)
    assert gap == {"device": "m1", "first_ts": 10.0, "last_ts": 10.0, "count": 1, "reason": "purged"}
