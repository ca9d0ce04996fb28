"""Care rule state across restarts: kept in care.json (0640, atomic), compared with the committed alarms."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson

from agent.pipeline.care.engine import CareEngine
from agent.pipeline.care.keeper import CareKeeper
from agent.pipeline.care.rules import CONTINUOUS_FLOW, INACTIVITY
from agent.pipeline.care.state import STATE_FILE, CareStateFile
from agent.records import Quality, Reading
from tests.unit.pipeline.care_days import DAY0, DEVICE, POINT, Replay, clock, local, meter, rule

WELFARE = rule(INACTIVITY, 6, window=("07:00", "22:00"))
LEAK = rule(CONTINUOUS_FLOW, 2)


async def restarted(state_dir: Path, before: CareKeeper, committed: frozenset[tuple[str, str, str]] | None = None
                    ) -> CareKeeper:
    """What a new agent builds: the saved state, and the care alarms the alarm journal committed."""
    await before.save()  # the final save of a SIGTERM stop
    keeper = await CareKeeper.open(state_dir, before.active if committed is None else committed)
    await keeper.configure(before.engine.rules)
    return keeper


async def test_a_restart_in_the_middle_keeps_the_state_and_raises_on_time(tmp_path: Path) -> None:
    reference = Replay(CareEngine(), meter())
    reference.engine.configure([WELFARE])
    reference.run("00:00", "23:59")
    assert reference.timeline() == [("alarm", INACTIVITY, "d0 13:00")]

    first = await CareKeeper.open(tmp_path, frozenset())
    await first.configure([WELFARE])
    counter = meter()
    before = Replay(first.engine, counter)
    before.run("00:00", "10:00")  # 3 window hours without use; the agent stops after the 10:00 reading
    second = await restarted(tmp_path, first)
    after = Replay(second.engine, counter)
    after.run("10:01", "23:59")  # and is back for the next one
    events = before.events + after.events
    assert [(e.kind, local(e.ts)) for e in events] == [("alarm", "d0 13:00")]


async def test_a_restart_longer_than_an_interval_is_a_gap(tmp_path: Path) -> None:
    first = await CareKeeper.open(tmp_path, frozenset())
    await first.configure([WELFARE])
    counter = meter()
    Replay(first.engine, counter).run("00:00", "12:00")  # 5 window hours
    second = await restarted(tmp_path, first)
    after = Replay(second.engine, counter)
    after.run("12:40", "23:59")  # down 40 minutes: unknown, the 6 hours count again from 12:40
    assert after.timeline() == [("alarm", INACTIVITY, "d0 18:40")]


async def test_an_alarm_active_across_a_restart_is_not_raised_again_and_clears_once(tmp_path: Path) -> None:
    first = await CareKeeper.open(tmp_path, frozenset())
    await first.configure([WELFARE])
    counter = meter(("16:00", "16:05", 6.0))
    before = Replay(first.engine, counter)
    before.run("00:00", "14:00")
    assert before.timeline() == [("alarm", INACTIVITY, "d0 13:00")]
    second = await restarted(tmp_path, first)
    assert second.active == {(DEVICE, POINT, INACTIVITY)}
    after = Replay(second.engine, counter)
    after.run("14:01", "23:59")
    assert after.timeline() == [("alarm_cleared", INACTIVITY, "d0 16:15")]


async def test_use_while_the_agent_was_down_clears_at_the_first_reading(tmp_path: Path) -> None:
    first = await CareKeeper.open(tmp_path, frozenset())
    await first.configure([WELFARE])
    counter = meter(("15:00", "15:10", 6.0))
    Replay(first.engine, counter).run("00:00", "14:00")
    second = await restarted(tmp_path, first)
    after = Replay(second.engine, counter)
    after.run("17:00", "18:00")  # the agent was down 14:00-17:00; the meter rose 60 L meanwhile
    assert after.timeline() == [("alarm_cleared", INACTIVITY, "d0 17:00")]


async def test_a_transition_lost_in_a_crash_is_sent_again(tmp_path: Path) -> None:
    # the raise was decided and its state saved, but the agent died before the outbox committed it
    first = await CareKeeper.open(tmp_path, frozenset())
    await first.configure([LEAK])
    counter = meter(("10:00", "18:00", 3.0))
    before = Replay(first.engine, counter)
    before.run("00:00", "12:00")
    assert before.timeline() == [("alarm", CONTINUOUS_FLOW, "d0 12:00")]
    second = await restarted(tmp_path, first, committed=frozenset())
    after = Replay(second.engine, counter)
    after.run("12:01", "12:02")
    assert after.timeline() == [("alarm", CONTINUOUS_FLOW, "d0 12:01")]
    # and a lost clear: the journal still holds the alarm the saved state says has ended
    third = await restarted(tmp_path, second, committed=frozenset())
    Replay(third.engine, counter).run("12:03", "18:30")
    fourth = await restarted(tmp_path, third, committed=frozenset({(DEVICE, POINT, CONTINUOUS_FLOW)}))
    again = Replay(fourth.engine, counter)
    again.run("18:31", "18:32")
    assert again.timeline() == [("alarm_cleared", CONTINUOUS_FLOW, "d0 18:31")]


async def test_the_transition_is_saved_before_the_event_leaves(tmp_path: Path) -> None:
    keeper = await CareKeeper.open(tmp_path, frozenset())
    await keeper.configure([LEAK])
    counter = meter(("00:00", "03:00", 3.0))
    for minute in range(0, 121):
        ts = DAY0 + minute * 60.0
        events = await keeper.observe(Reading(DEVICE, POINT, counter.at(minute * 60.0), ts))
        if events:
            break
    assert events and events[0].kind == "alarm"
    saved = CareStateFile(tmp_path / STATE_FILE).load()
    assert saved[(DEVICE, POINT, CONTINUOUS_FLOW)].alarming is True


async def test_the_file_is_0640_whole_and_an_unreadable_one_starts_afresh(tmp_path: Path) -> None:
    os.umask(0o077)
    try:
        keeper = await CareKeeper.open(tmp_path, frozenset())
        await keeper.configure([WELFARE])
        await keeper.observe(Reading(DEVICE, POINT, 12.5, DAY0 + clock("08:00")))
        assert await keeper.save()
    finally:
        os.umask(0o022)
    path = tmp_path / STATE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    doc = orjson.loads(path.read_bytes())
    assert doc["rules"][0] | {"held_s": 0} == {
        "device": DEVICE, "point": POINT, "rule": INACTIVITY, "alarming": False, "held_s": 0, "since": None,
        "last_ts": DAY0 + clock("08:00"), "last_value": 12.5, "opened": DAY0 + clock("08:00"), "volume": 0.0,
    }
    assert os.listdir(tmp_path) == [STATE_FILE]  # no temp file left behind
    path.write_text('{"version": 1, "rules": [{"device": "x"}]}')
    assert CareStateFile(path).load() == {}


async def test_a_failed_save_is_logged_and_retried(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.write_text("a file where the state dir should be")
    keeper = CareKeeper(CareEngine(), CareStateFile(folder / STATE_FILE))
    await keeper.configure([WELFARE])  # its save fails: logged, not raised
    await keeper.observe(Reading(DEVICE, POINT, 1.0, DAY0))
    assert await keeper.save() is False and keeper.engine.changed
    folder.unlink()
    assert await keeper.save() is True
    assert (await CareKeeper.open(folder, frozenset())).engine.states()


async def test_stale_and_bad_readings_are_not_a_reading_for_the_gap() -> None:
    engine = CareEngine()
    engine.configure([WELFARE])
    engine.observe(Reading(DEVICE, POINT, 5.0, DAY0 + clock("08:00")))
    for minute in range(1, 40):
        engine.observe(Reading(DEVICE, POINT, None, DAY0 + clock("08:00") + minute * 60, quality=Quality.STALE))
    track = engine.states()[(DEVICE, POINT, INACTIVITY)].track
    assert track.last_ts == DAY0 + clock("08:00")


async def test_a_raise_the_journal_missed_is_still_cleared_when_its_rule_goes(tmp_path: Path) -> None:
    # killed after the raise left but before alarms.json was saved: only care.json knows it was raised
    first = await CareKeeper.open(tmp_path, frozenset())
    await first.configure([LEAK])
    before = Replay(first.engine, meter(("10:00", "18:00", 3.0)))
    before.run("00:00", "12:00")
    assert before.timeline() == [("alarm", CONTINUOUS_FLOW, "d0 12:00")]
    await first.save()  # CareKeeper.observe saves before the raise leaves (the Replay feeds the engine)
    second = await CareKeeper.open(tmp_path, frozenset())
    events = await second.configure([])
    assert [(e.kind, e.data["reason"]) for e in events] == [("alarm_cleared", "rule_removed")]
    third = await CareKeeper.open(tmp_path, frozenset())
    assert await third.configure([]) == []  # once
