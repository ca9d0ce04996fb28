"""Active alarms on disk: saved after the outbox committed them, loaded at start, device rules replaced."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from agent.errors import OutboxError
from agent.pipeline.alarm_state import STATE_FILE, AlarmJournal, AlarmStateFile
from agent.pipeline.alarms import AlarmEvaluator
from agent.records import Event, Reading, Record
from agent.rules import AlarmRule, PointRule

TILT = AlarmRule(name="tilt", above=10.0, hysteresis=2.0)


class Outbox:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.accepted: list[Record] = []

    async def accept(self, records: Sequence[Record]) -> list[int]:
        if self.fail:
            raise OutboxError("disk full")
        self.accepted.extend(records)
        return list(range(len(records)))


def raised(point: str = "roll") -> Event:
    return Event("manhole", "alarm", ts=100.0, data={"alarm": "tilt", "point": point, "value": 15.0})


def cleared(point: str = "roll") -> Event:
    return Event("manhole", "alarm_cleared", data={"alarm": "tilt", "point": point})


async def test_saved_after_commit_with_mode_0640_and_loaded_again(tmp_path: Path) -> None:
    os.umask(0o077)  # a tight umask must not make the file unreadable for the group
    try:
        journal = await AlarmJournal.open(Outbox(), tmp_path)
        await journal.accept([raised(), Reading("manhole", "roll", 15.0, 100.0)])
    finally:
        os.umask(0o022)
    path = tmp_path / STATE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert orjson.loads(path.read_bytes())["active"] == [
        {"device": "manhole", "point": "roll", "alarm": "tilt", "since": 100.0, "value": 15.0}
    ]
    again = await AlarmJournal.open(Outbox(), tmp_path)
    assert again.active == {("manhole", "roll", "tilt")}
    await again.accept([cleared()])
    assert (await AlarmJournal.open(Outbox(), tmp_path)).active == frozenset()


async def test_nothing_is_saved_when_the_outbox_refused(tmp_path: Path) -> None:
    journal = await AlarmJournal.open(Outbox(fail=True), tmp_path)
    with pytest.raises(OutboxError):
        await journal.accept([raised()])
    assert journal.active == frozenset() and not (tmp_path / STATE_FILE).exists()


async def test_a_failed_save_is_retried_with_the_next_accept(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    journal = AlarmJournal(Outbox(), AlarmStateFile(folder / STATE_FILE), {})
    await journal.accept([raised()])  # the folder does not exist: logged, not raised
    folder.mkdir()
    await journal.accept([Reading("manhole", "roll", 15.0, 101.0)])  # no alarm event, but the file is due
    assert (await AlarmJournal.open(Outbox(), folder)).active == {("manhole", "roll", "tilt")}


def test_an_unreadable_file_counts_as_no_alarm(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    assert AlarmStateFile(tmp_path / STATE_FILE).load() == {}


def test_a_restored_alarm_clears_on_a_normal_value_and_is_not_raised_again() -> None:
    a = AlarmEvaluator([("manhole", "roll", "tilt")])
    a.configure_devices(["manhole"], [PointRule("manhole", "roll", alarms=(TILT,))])
    assert a.evaluate(Reading("manhole", "roll", 15.0, 1.0)) == []
    assert a.evaluate(Reading("manhole", "roll", 9.0, 2.0)) == []  # inside the hysteresis band
    assert [e.kind for e in a.evaluate(Reading("manhole", "roll", 7.0, 3.0))] == ["alarm_cleared"]


def test_device_rules_replace_the_old_ones_and_clear_what_lost_its_rule() -> None:
    a = AlarmEvaluator([("manhole", "roll", "tilt"), ("manhole", "pitch", "tilt"), ("other", "x", "tilt")])
    events = a.configure_devices(["manhole"], [PointRule("manhole", "pitch", alarms=(TILT,))])  # roll not polled
    assert [(e.device, e.data["point"], e.data["reason"]) for e in events] == [("manhole", "roll", "rule_removed")]
    assert a.active == {("manhole", "pitch", "tilt"), ("other", "x", "tilt")}
    events = a.configure_devices(["manhole"], [PointRule("manhole", "pitch")])  # the rule was disabled
    assert [e.data["point"] for e in events] == ["pitch"]
    assert a.evaluate(Reading("manhole", "pitch", 50.0, 1.0)) == []
