"""Care rules inside the pipeline: config changes, removed devices, and the shared active-alarm journal."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from agent.pipeline.alarm_state import AlarmJournal
from agent.pipeline.alarms import AlarmEvaluator
from agent.pipeline.care.engine import CARE, CareEngine
from agent.pipeline.care.keeper import CareKeeper
from agent.pipeline.care.rules import CONTINUOUS_FLOW, INACTIVITY
from agent.pipeline.pipeline import Pipeline
from agent.records import Event, Priority, Reading, Record
from agent.rules import AlarmRule, PointRule
from tests.unit.pipeline.care_days import DAY0, DEVICE, POINT, meter, rule

LEAK = rule(CONTINUOUS_FLOW, 1)
KEY = (DEVICE, POINT, CONTINUOUS_FLOW)


class Outbox:
    def __init__(self) -> None:
        self.accepted: list[Record] = []

    async def accept(self, records: Sequence[Record]) -> list[int]:
        self.accepted.extend(records)
        return list(range(len(records)))


def flowing(engine: CareEngine, minutes: int = 75) -> list[Event]:
    counter = meter(("00:00", "10:00", 3.0))
    events: list[Event] = []
    for minute in range(minutes + 1):
        events += engine.observe(Reading(DEVICE, POINT, counter.at(minute * 60.0), DAY0 + minute * 60.0))
    return events


def test_a_removed_rule_or_device_clears_its_active_alarm_in_the_alarm_lane() -> None:
    for removal in ("rule", "device"):
        engine = CareEngine()
        engine.configure([LEAK])
        assert [e.kind for e in flowing(engine)] == ["alarm"]
        events = engine.configure([]) if removal == "rule" else engine.forget(DEVICE)
        assert [(e.kind, e.priority, e.data) for e in events] == [
            ("alarm_cleared", Priority.ALARM,
             {"alarm": CONTINUOUS_FLOW, "point": POINT, "rule": CARE, "reason": f"{removal}_removed"})
        ]
        assert engine.active == frozenset() and engine.states() == {}


def test_a_rule_whose_parameters_change_keeps_its_state_and_alarm() -> None:
    engine = CareEngine()
    engine.configure([LEAK])
    flowing(engine)
    assert engine.configure([rule(CONTINUOUS_FLOW, 3), rule(INACTIVITY, 6)]) == []
    assert engine.active == {KEY} and engine.states()[KEY].alarming


def test_readings_of_other_points_and_non_numbers_are_ignored() -> None:
    engine = CareEngine()
    engine.configure([LEAK])
    assert engine.observe(Reading(DEVICE, "flow_rate", 3.0, DAY0)) == []
    assert engine.observe(Reading(DEVICE, POINT, "n/a", DAY0)) == []
    assert engine.observe(Reading(DEVICE, POINT, True, DAY0)) == []
    assert engine.states() == {}


async def test_care_and_threshold_alarms_share_the_journal_and_neither_clears_the_others(tmp_path: Path) -> None:
    outbox = Outbox()
    journal = await AlarmJournal.open(outbox, tmp_path)
    care = await CareKeeper.open(tmp_path, journal.active_of(CARE))
    pipeline = Pipeline(journal, heartbeat_s=300, queue_size=100, alarms=AlarmEvaluator(), care=care)
    await pipeline.apply_care([LEAK])
    # the same meter has a threshold alarm on its flow rate, from its profile
    high = AlarmRule(name="high_flow", above=5.0)
    rules = [PointRule(DEVICE, POINT), PointRule(DEVICE, "flow_rate", alarms=(high,))]
    await pipeline.apply_rules(rules, [DEVICE])
    writer = asyncio.create_task(pipeline.run())
    try:
        counter = meter(("00:00", "10:00", 3.0))
        for minute in range(76):
            await pipeline.put(Reading(DEVICE, POINT, counter.at(minute * 60.0), DAY0 + minute * 60.0))
        await pipeline.put(Reading(DEVICE, "flow_rate", 9.0, DAY0 + 4600))
        assert await pipeline.drain(10.0)
    finally:
        writer.cancel()
        with suppress(asyncio.CancelledError):
            await writer
    raised = [r for r in outbox.accepted if isinstance(r, Event)]
    assert [(e.data["alarm"], e.priority) for e in raised] == [
        (CONTINUOUS_FLOW, Priority.ALARM), ("high_flow", Priority.ALARM)
    ]
    assert journal.active == {KEY, (DEVICE, "flow_rate", "high_flow")}
    assert journal.active_of(CARE) == {KEY}
    assert pipeline.active_alarms == {KEY, (DEVICE, "flow_rate", "high_flow")}

    # a restart: each evaluator gets its own alarms back; the driver's rules do not clear the care alarm
    again = await AlarmJournal.open(Outbox(), tmp_path)
    assert again.active_of(CARE) == {KEY}
    evaluator = AlarmEvaluator(again.active - again.active_of(CARE))
    assert evaluator.configure_devices([DEVICE], rules) == []
    restarted = await CareKeeper.open(tmp_path, again.active_of(CARE))
    assert await restarted.configure([LEAK]) == [] and restarted.active == {KEY}
