"""Downlink command dispatcher: validation, expiry, replay, authorisation, execution, answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.commands.config import CommandsConfig
from agent.commands.dispatcher import CommandDispatcher
from agent.control.handlers import handle as control_handle
from agent.control.protocol import ReadPointRequest
from agent.errors import CommandError, DeviceTimeout, ProfileError, WriteRejected
from agent.records import PointValue, Reading
from drivers.base import Driver

NOW = 1_800_000_000.0


class FakeDriver:
    """Stands in for a Driver: the profile says only meter1.setpoint is writable."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, PointValue, bool]] = []
        self.periods: list[tuple[str, str | None, float]] = []

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> None:
        if point != "setpoint":
            raise WriteRejected(device, point, "read-only in profile")
        self.writes.append((device, point, value, verify))

    async def read_point(self, device: str, point: str) -> Reading:
        if device == "dead":
            raise DeviceTimeout(device, "no answer")
        if point == "unmapped":
            raise ProfileError([f"{device}: point {point} has no register"])
        return Reading(device, point, 42.5, NOW - 1, unit="V")

    def set_period(self, device: str, point: str | None, period_s: float) -> float:
        self.periods.append((device, point, period_s))
        return period_s


class Targets:
    def __init__(self) -> None:
        self.driver = FakeDriver()
        self.births = 0

    def driver_for(self, device: str) -> Driver[Any] | None:
        return self.driver if device in ("meter1", "dead") else None  # type: ignore[return-value]

    def resend_birth(self) -> None:
        self.births += 1


@pytest.fixture
def targets() -> Targets:
    return Targets()


@pytest.fixture
async def dispatcher(tmp_path: Path, targets: Targets) -> AsyncIterator[CommandDispatcher]:
    config = CommandsConfig(writable=["meter1.set*", "meter1.mode"], max_ttl_s=600)
    d = CommandDispatcher(config, targets, tmp_path, clock=lambda: NOW)
    yield d
    await d.close()


def cmd(**fields: Any) -> bytes:
    base: dict[str, Any] = {"id": "c1", "expires_at": NOW + 60}
    base.update(fields)
    return orjson.dumps({k: v for k, v in base.items() if v is not ...})


async def answer(d: CommandDispatcher, payload: bytes) -> dict[str, Any]:
    out = orjson.loads(await d.handle_message("", payload))
    assert set(out) == {"id", "ok", "code", "message", "result"}
    return out


async def test_good_write_reaches_driver(dispatcher: CommandDispatcher, targets: Targets) -> None:
    out = await answer(dispatcher, cmd(kind="write_point", device="meter1", point="setpoint", value=21.5,
                                       verify=True))
    assert out["ok"] is True and out["code"] == "ok" and out["id"] == "c1"
    assert targets.driver.writes == [("meter1", "setpoint", 21.5, True)]


async def test_bad_json_gets_error_result(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, b'{"id": "x", kind: }')
    assert out["ok"] is False and out["code"] == "bad_json" and out["id"] is None


async def test_non_object_payload(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, b"[1, 2]")
    assert (out["ok"], out["code"]) == (False, "invalid")


async def test_unknown_kind(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="reboot"))
    assert out["code"] == "unknown_kind" and out["id"] == "c1" and "kind" in out["message"]


async def test_missing_field_is_named(dispatcher: CommandDispatcher, targets: Targets) -> None:
    out = await answer(dispatcher, cmd(kind="write_point", device="meter1", point="setpoint"))
    assert out["code"] == "invalid" and "'value'" in out["message"]
    assert targets.driver.writes == []


async def test_missing_expiry_is_named(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="ping", expires_at=...))
    assert out["code"] == "invalid" and "'expires_at'" in out["message"]


async def test_wrong_type_is_named(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="set_period", device="meter1", period_s="fast"))
    assert out["code"] == "invalid" and "'period_s'" in out["message"]


async def test_extra_field_refused(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="ping", force=True))
    assert out["code"] == "invalid" and "'force'" in out["message"]


async def test_expired_refused(dispatcher: CommandDispatcher, targets: Targets) -> None:
    out = await answer(dispatcher, cmd(kind="write_point", device="meter1", point="setpoint", value=1,
                                       expires_at=NOW - 5))
    assert out["code"] == "expired"
    assert targets.driver.writes == []


async def test_expiry_beyond_max_ttl_refused(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="ping", expires_at=NOW + 601))
    assert out["code"] == "ttl_too_long"


async def test_a_retry_gets_the_stored_answer_and_runs_nothing(dispatcher: CommandDispatcher, targets: Targets) -> None:
    payload = cmd(kind="write_point", device="meter1", point="setpoint", value=3)
    first = await answer(dispatcher, payload)
    assert first["ok"] is True
    again = await answer(dispatcher, payload)
    assert again == first
    assert len(targets.driver.writes) == 1


async def test_stored_answer_survives_a_restart(tmp_path: Path, targets: Targets) -> None:
    config = CommandsConfig(writable=["meter1.setpoint"], max_ttl_s=600)
    first = CommandDispatcher(config, targets, tmp_path, clock=lambda: NOW)
    payload = cmd(kind="write_point", id="w1", device="meter1", point="setpoint", value=7)
    original = await answer(first, payload)
    await first.close()
    second = CommandDispatcher(config, targets, tmp_path, clock=lambda: NOW)
    try:
        assert await answer(second, payload) == original
    finally:
        await second.close()
    assert len(targets.driver.writes) == 1


async def test_unauthorised_point_refused(dispatcher: CommandDispatcher, targets: Targets) -> None:
    out = await answer(dispatcher, cmd(kind="write_point", device="meter1", point="voltage", value=1))
    assert out["code"] == "unauthorised" and "meter1.voltage" in out["message"]
    assert targets.driver.writes == []


async def test_read_only_point_refused_by_profile(dispatcher: CommandDispatcher, targets: Targets) -> None:
    # Allowed by config (meter1.mode) but the profile (driver) says read-only.
    out = await answer(dispatcher, cmd(kind="write_point", device="meter1", point="mode", value=2))
    assert out["code"] == "rejected" and "read-only" in out["message"]
    assert targets.driver.writes == []


async def test_unknown_device(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="read_point", device="nosuch", point="x"))
    assert out["code"] == "unknown_device"


async def test_read_point_returns_value(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="read_point", device="meter1", point="voltage"))
    assert out["ok"] is True and out["result"]["value"] == 42.5 and out["result"]["unit"] == "V"


async def test_device_timeout_is_a_result(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="read_point", device="dead", point="voltage"))
    assert (out["ok"], out["code"]) == (False, "device_error")


async def test_set_period_and_resend_birth(dispatcher: CommandDispatcher, targets: Targets) -> None:
    out = await answer(dispatcher, cmd(kind="set_period", device="meter1", period_s=5))
    assert out["ok"] is True and out["result"]["period_s"] == 5.0
    assert targets.driver.periods == [("meter1", None, 5.0)]
    assert (await answer(dispatcher, cmd(kind="resend_birth", id="b1")))["ok"] is True
    assert targets.births == 1


async def test_disabled_refuses_everything(tmp_path: Path, targets: Targets) -> None:
    d = CommandDispatcher(CommandsConfig(enabled=False), targets, tmp_path, clock=lambda: NOW)
    try:
        assert (await answer(d, cmd(kind="ping")))["code"] == "disabled"
    finally:
        await d.close()


async def test_other_typed_error_is_a_result(dispatcher: CommandDispatcher) -> None:
    out = await answer(dispatcher, cmd(kind="read_point", device="meter1", point="unmapped"))
    assert (out["ok"], out["code"]) == (False, "failed") and "ProfileError" in out["message"]


async def test_read_point_answers_exactly_like_the_control_socket(
    dispatcher: CommandDispatcher, targets: Targets
) -> None:
    """A downlink read and ``edgepost read`` find the driver and render the reading one way."""
    out = await answer(dispatcher, cmd(kind="read_point", device="meter1", point="voltage"))
    local = await control_handle(targets, ReadPointRequest(device="meter1", point="voltage"))  # type: ignore[arg-type]
    assert out["result"] == local == {
        "type": "reading",
        "device": "meter1",
        "point": "voltage",
        "value": 42.5,
        "unit": "V",
        "quality": "good",
        "ts": NOW - 1,
    }
    missing = await answer(dispatcher, cmd(kind="read_point", id="c2", device="nosuch", point="x"))
    with pytest.raises(CommandError) as local_error:
        await control_handle(targets, ReadPointRequest(device="nosuch", point="x"))  # type: ignore[arg-type]
    assert (missing["code"], missing["message"]) == (local_error.value.code, str(local_error.value))
