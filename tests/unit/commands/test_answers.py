"""Every command gets an answer, whatever its target raises; answers go into the outbox; an id runs once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.commands.config import CommandsConfig
from agent.commands.dispatcher import REPLAY_DB, CommandDispatcher
from agent.commands.models import RESULT_DEVICE, RESULT_KIND
from agent.commands.outcomes import code_for
from agent.commands.replay import ReplayGuard
from agent.errors import DeviceTimeout, OutboxFull, WriteOutcomeUnknown, WriteRejected
from agent.records import Event, PointValue, Priority, Record
from drivers.base import Driver, PeriodRefused

NOW = 1_800_000_000.0


class Gate:
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


class Driverish:
    def __init__(self) -> None:
        self.writes: list[tuple[str, PointValue]] = []
        self.gate: Gate | None = None

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> None:
        if self.gate is not None:
            self.gate.entered.set()
            await self.gate.release.wait()
        self.writes.append((point, value))
        if point == "bug":
            raise ValueError("could not convert string to float: 'x'")
        if point == "silent":
            raise DeviceTimeout(device, "no answer")
        if point == "lost":
            raise WriteOutcomeUnknown(f"{device}.{point}", "no response")
        if point == "ro":
            raise WriteRejected(device, point, "read-only")

    def set_period(self, device: str, point: str | None, period_s: float) -> float:
        if period_s < 0.25:
            raise PeriodRefused(f"{device}: 0.25 s is the shortest its bus can keep", 0.25)
        return period_s


class Targets:
    def __init__(self) -> None:
        self.driver = Driverish()

    def driver_for(self, device: str) -> Driver[Any] | None:
        return self.driver if device == "lamp" else None  # type: ignore[return-value]

    def resend_birth(self) -> None:
        return None


class FakeOutbox:
    """An OutboxWriter that can refuse the first ``refuse`` accepts."""

    def __init__(self, refuse: int = 0) -> None:
        self.records: list[Record] = []
        self.refuse = refuse

    async def accept(self, records: Sequence[Record]) -> list[int]:
        if self.refuse:
            self.refuse -= 1
            raise OutboxFull("full")
        self.records.extend(records)
        return list(range(len(self.records) - len(records) + 1, len(self.records) + 1))

    def answers(self) -> list[dict[str, Any]]:
        out = []
        for r in self.records:
            assert isinstance(r, Event) and r.kind == RESULT_KIND and r.device == RESULT_DEVICE
            assert r.priority is Priority.ALARM
            out.append(r.data)
        return out


CONFIG = CommandsConfig(writable=["lamp.*"], max_ttl_s=600)


@pytest.fixture
def targets() -> Targets:
    return Targets()


@pytest.fixture
def outbox() -> FakeOutbox:
    return FakeOutbox()


@pytest.fixture
async def dispatcher(tmp_path: Path, targets: Targets, outbox: FakeOutbox) -> AsyncIterator[CommandDispatcher]:
    d = CommandDispatcher(CONFIG, targets, tmp_path, outbox, clock=lambda: NOW)
    yield d
    await d.close()


def write(cid: str, point: str, value: PointValue = 1) -> bytes:
    return orjson.dumps({"id": cid, "expires_at": NOW + 60, "kind": "write_point", "device": "lamp",
                         "point": point, "value": value})


async def answer(d: CommandDispatcher, payload: bytes) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(await d.handle_message("", payload))
    return out


async def test_a_value_error_from_the_driver_is_answered(dispatcher: CommandDispatcher, outbox: FakeOutbox) -> None:
    out = await answer(dispatcher, write("v1", "bug"))
    assert (out["ok"], out["code"]) == (False, "failed")
    assert out["message"] == "ValueError: could not convert string to float: 'x'"
    assert outbox.answers() == [out]


@pytest.mark.parametrize(
    ("point", "code", "says"),
    [("silent", "unknown", "may or may not"), ("lost", "unknown", "may have been applied"), ("ro", "rejected", "")],
)
async def test_a_write_without_reply_answers_unknown(
    dispatcher: CommandDispatcher, point: str, code: str, says: str
) -> None:
    out = await answer(dispatcher, write("w-" + point, point))
    assert (out["ok"], out["code"]) == (False, code)
    assert says in str(out["message"])


def test_outcome_unknown_is_matched_by_type_not_by_name() -> None:
    class WriteOutcomeUnknownLookalike(Exception):
        pass

    WriteOutcomeUnknownLookalike.__name__ = "WriteOutcomeUnknown"
    assert code_for(WriteOutcomeUnknown("meter", "no response"), is_write=False) == "unknown"
    assert code_for(WriteOutcomeUnknownLookalike("x"), is_write=False) == "failed"


async def test_every_answer_goes_into_the_outbox(dispatcher: CommandDispatcher, outbox: FakeOutbox) -> None:
    answers = [await answer(dispatcher, p) for p in (b"{nope", write("a", "x"), write("a", "x"), write("b", "ro"))]
    assert outbox.answers() == answers
    assert [a["code"] for a in answers] == ["bad_json", "ok", "ok", "rejected"]


async def test_an_outbox_that_refuses_is_retried(tmp_path: Path, targets: Targets) -> None:
    outbox = FakeOutbox(refuse=2)
    d = CommandDispatcher(CONFIG, targets, tmp_path, outbox, clock=lambda: NOW)
    try:
        out = await answer(d, write("r1", "x"))
    finally:
        await d.close()
    assert outbox.answers() == [out]


async def test_same_id_while_running_runs_once_and_answers_both(
    dispatcher: CommandDispatcher, targets: Targets, outbox: FakeOutbox
) -> None:
    targets.driver.gate = Gate()
    first = asyncio.create_task(answer(dispatcher, write("d1", "x", 5)))
    await targets.driver.gate.entered.wait()
    second = asyncio.create_task(answer(dispatcher, write("d1", "x", 5)))
    await asyncio.sleep(0.05)
    assert not second.done()
    targets.driver.gate.release.set()
    one, two = await asyncio.gather(first, second)
    assert one == two and one["code"] == "ok"
    assert targets.driver.writes == [("x", 5)]
    assert len(outbox.answers()) == 2


async def test_an_id_claimed_by_a_run_that_died_answers_unknown(tmp_path: Path, targets: Targets) -> None:
    store = ReplayGuard(tmp_path / REPLAY_DB, 100)
    assert store.claim("k1", NOW + 60, NOW) is None  # the previous run took it, then died mid-write
    store.close()
    d = CommandDispatcher(CONFIG, targets, tmp_path, FakeOutbox(), clock=lambda: NOW)
    try:
        out = await answer(d, write("k1", "x"))
        again = await answer(d, write("k1", "x"))
    finally:
        await d.close()
    assert (out["ok"], out["code"]) == (False, "unknown") and again == out
    assert targets.driver.writes == []


async def test_answers_stored_but_not_queued_are_queued_at_start(tmp_path: Path, targets: Targets) -> None:
    store = ReplayGuard(tmp_path / REPLAY_DB, 100)
    stored = b'{"id":"q1","ok":true,"code":"ok","message":"","result":null}'
    store.store_answer("q1", NOW + 60, NOW, stored)
    store.close()
    outbox = FakeOutbox()
    d = CommandDispatcher(CONFIG, targets, tmp_path, outbox, clock=lambda: NOW)
    d.start()
    await asyncio.sleep(0.2)
    await d.close()
    assert outbox.answers() == [orjson.loads(stored)]
    store = ReplayGuard(tmp_path / REPLAY_DB, 100)
    assert store.unqueued() == []
    store.close()


async def test_submit_answers_in_the_background(dispatcher: CommandDispatcher, outbox: FakeOutbox) -> None:
    dispatcher.submit("x", write("s1", "x"))
    async with asyncio.timeout(10):
        while not outbox.records:  # noqa: ASYNC110 -- waits for the dispatcher's own task
            await asyncio.sleep(0.01)
    assert outbox.answers()[0]["id"] == "s1"


async def test_set_period_below_the_bus_floor_is_refused_with_the_minimum(dispatcher: CommandDispatcher) -> None:
    base = {"expires_at": NOW + 60, "kind": "set_period", "device": "lamp"}
    low = await answer(dispatcher, orjson.dumps({"id": "p1", "period_s": 0.2, **base}))
    assert (low["ok"], low["code"], low["result"]) == (False, "rejected", {"min_period_s": 0.25})
    floor = await answer(dispatcher, orjson.dumps({"id": "p2", "period_s": 0.001, **base}))
    assert floor["code"] == "rejected" and "commands.min_period_s" in floor["message"]
    assert floor["result"] == {"min_period_s": CONFIG.min_period_s}
    ok = await answer(dispatcher, orjson.dumps({"id": "p3", "period_s": 0.5, **base}))
    assert ok["ok"] is True and ok["result"]["period_s"] == 0.5
