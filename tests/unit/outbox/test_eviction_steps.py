"""Eviction and TTL expiry run in bounded steps, one per housekeeping call, until they are done."""

from __future__ import annotations

from typing import Any

import orjson

from agent.outbox import bounds
from agent.outbox.codec import encode
from agent.records import Priority, Reading
from tests.unit.outbox.conftest import FakeClock, all_rows, commit

MIB = 1 << 20


def _gaps(engine: Any, reason: str) -> list[dict[str, Any]]:
    bodies = [orjson.loads(b)[1] for (b,) in engine.conn.execute("SELECT body FROM records WHERE kind = 1")]
    return [d for d in bodies if d.get("reason") == reason]


def test_an_eviction_over_the_budget_goes_on_in_bounded_steps_to_the_target(
    make_engine: Any, clock: FakeClock
) -> None:
    engine = make_engine(max_bytes=MIB)
    # 64 devices: every step stores 64 gap events, which must not keep the eviction going
    batch = [encode(Reading(f"m{i % 64}", "v", "x" * 200, clock.now)) for i in range(640)]
    rows = 0
    while bounds.used_bytes(engine.conn) < 2 * engine.space.page_budget:  # commits only, no housekeeping
        engine.commit([batch], [])
        rows += len(batch)
    engine.space.step_rows = 100
    steps = 0
    while True:
        allowed, before = engine.space.step_rows, engine.evicted_total
        more = engine.housekeeping()
        assert engine.evicted_total - before <= allowed  # a step never takes more than its share
        steps += 1
        if not more:
            break
        [accepted] = engine.commit([[encode(Reading("live", "v", float(steps), clock.now))]], []).accepts
        assert isinstance(accepted, list)  # commits go on between the steps
    assert steps > 5
    assert engine.evicted_total < 0.6 * rows  # about 55 % (2x the budget down to 90 % of it), not all
    assert engine.space.used <= engine.space.page_budget
    assert sum(g["count"] for g in _gaps(engine, "evicted")) == engine.evicted_total
    assert not engine.housekeeping()  # below the budget: nothing more until it is passed again


def test_ttl_expiry_goes_on_in_bounded_steps(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine(ttl_s=3600, expiry_interval_s=60)
    old = [s for _ in range(10) for s in commit(engine, [Reading("m1", "v", 1.0, clock.now)] * 100)]
    clock.now += 3600 + 61
    fresh = commit(engine, [Reading("m1", "v", 2.0, clock.now)])
    engine.space.step_rows = 150
    steps = 0
    while True:
        allowed, before = engine.space.step_rows, engine.expired_total
        more = engine.housekeeping()
        assert engine.expired_total - before <= allowed
        steps += 1
        if not more:
            break
    assert steps > 1
    assert [r[0] for r in all_rows(engine) if r[1] == Priority.TELEMETRY] == fresh
    assert sum(g["count"] for g in _gaps(engine, "expired")) == len(old) == engine.expired_total
