"""``update_model`` downlink command: authorisation, both payload forms, dispatch to the driver running the model."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.commands.config import CommandsConfig
from agent.commands.dispatcher import CommandDispatcher
from agent.commands.model_update import SCRATCH_PREFIX
from agent.records import Event, Priority
from drivers.base import Driver, NotSupported
from drivers.capabilities import ModelUpdates

NOW = 1_800_000_000.0
MANIFEST = "name: blob\nfile: blob.onnx\n"
ONNX = b"\x08\x07onnx-bytes"


class FakeCameraDriver(ModelUpdates):
    """Runs model ``blob``; a candidate whose bytes start with b"bad" fails its self-test."""

    def __init__(self, name: str, models: tuple[str, ...]) -> None:
        self.name = name
        self.models = models
        self.calls: list[tuple[str, bytes, str]] = []

    async def update_model(self, name: str, model_file: Path, manifest_file: Path) -> Event:
        if name not in self.models:
            raise NotSupported(f"{self.name}: no camera runs model {name!r}")
        data = await asyncio.to_thread(model_file.read_bytes)
        self.calls.append((name, data, await asyncio.to_thread(manifest_file.read_text)))
        if data.startswith(b"bad"):
            return Event(self.name, "model_update_failed", priority=Priority.ALARM,
                         data={"model": name, "reason": "self_test: impossible boxes", "cameras": ["north"]})
        return Event(self.name, "model_updated",
                     data={"model": name, "sha256": "ab" * 32, "sessions": 1, "cameras": ["north"]})


class ModbusLike:
    name = "rs485"  # no update_model at all


class Targets:
    def __init__(self) -> None:
        self.camera = FakeCameraDriver("cams", ("blob",))
        self.drivers: list[Any] = [ModbusLike(), self.camera, FakeCameraDriver("other", ("text-direction",))]

    def driver_for(self, device: str) -> Driver[Any] | None:
        return None

    def resend_birth(self) -> None:
        pass

    def all_drivers(self) -> list[Driver[Any]]:
        return self.drivers


class TargetsWithoutDirectory:
    def driver_for(self, device: str) -> Driver[Any] | None:
        return None

    def resend_birth(self) -> None:
        pass


@pytest.fixture
def targets() -> Targets:
    return Targets()


def make(tmp_path: Path, targets: object, allowed: bool = True) -> CommandDispatcher:
    return CommandDispatcher(CommandsConfig(model_updates=allowed), targets, tmp_path / "state",  # type: ignore[arg-type]
                             clock=lambda: NOW)


@pytest.fixture
async def dispatcher(tmp_path: Path, targets: Targets) -> AsyncIterator[CommandDispatcher]:
    d = make(tmp_path, targets)
    yield d
    await d.close()


@pytest.fixture
def on_box(tmp_path: Path) -> dict[str, Any]:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "manifest.yaml").write_text(MANIFEST)
    (incoming / "blob.onnx").write_bytes(ONNX)
    return {"manifest": str(incoming / "manifest.yaml"), "file": str(incoming / "blob.onnx")}


def cmd(cid: str = "u1", **fields: Any) -> bytes:
    return orjson.dumps({"id": cid, "expires_at": NOW + 60, "kind": "update_model", "model": "blob", **fields})


async def answer(d: CommandDispatcher, payload: bytes) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(await d.handle_message("models", payload))
    return out


async def test_refused_unless_model_updates_is_enabled(tmp_path: Path, targets: Targets,
                                                       on_box: dict[str, Any]) -> None:
    d = make(tmp_path, targets, allowed=False)
    try:
        out = await answer(d, cmd(**on_box))
    finally:
        await d.close()
    assert (out["ok"], out["code"]) == (False, "unauthorised")
    assert "commands.model_updates" in out["message"]
    assert targets.camera.calls == []


async def test_files_on_the_box_reach_the_driver_running_that_model(
    dispatcher: CommandDispatcher, targets: Targets, on_box: dict[str, Any]
) -> None:
    out = await answer(dispatcher, cmd(**on_box))
    assert (out["id"], out["ok"], out["code"]) == ("u1", True, "ok")
    assert out["result"] == {"model": "blob", "sha256": "ab" * 32, "drivers": ["cams"], "cameras": ["north"],
                             "sessions": 1}
    assert targets.camera.calls == [("blob", ONNX, MANIFEST)]
    assert targets.drivers[2].calls == []  # runs another model


async def test_inline_model_is_staged_then_cleaned_up(
    tmp_path: Path, dispatcher: CommandDispatcher, targets: Targets
) -> None:
    out = await answer(dispatcher, cmd(manifest_yaml=MANIFEST, model_b64=base64.b64encode(ONNX).decode()))
    assert out["ok"] is True, out
    assert targets.camera.calls == [("blob", ONNX, MANIFEST)]
    assert not [p for p in (tmp_path / "state").iterdir() if p.name.startswith(SCRATCH_PREFIX)]


async def test_failed_update_answers_failed_with_the_reason(
    dispatcher: CommandDispatcher, targets: Targets, on_box: dict[str, Any]
) -> None:
    await asyncio.to_thread(Path(on_box["file"]).write_bytes, b"bad model")
    out = await answer(dispatcher, cmd(**on_box))
    assert (out["ok"], out["code"]) == (False, "failed")
    assert "model_update_failed" in out["message"] and "cams: self_test: impossible boxes" in out["message"]


async def test_model_no_driver_runs_is_not_supported(
    dispatcher: CommandDispatcher, targets: Targets, on_box: dict[str, Any]
) -> None:
    out = await answer(dispatcher, cmd(model="yolo-traffic", **on_box))
    assert (out["ok"], out["code"]) == (False, "not_supported")
    assert "'yolo-traffic'" in out["message"] and "cams: no camera runs model" in out["message"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"manifest": "/tmp/m.yaml"}, "give either manifest and file"),
        ({"manifest_yaml": MANIFEST}, "give either manifest and file"),
        ({"manifest": "m.yaml", "file": "/tmp/x.onnx"}, "field 'manifest': Value error, must be an absolute path"),
        ({"manifest_yaml": MANIFEST, "model_b64": "not base64!"}, "field 'model_b64'"),
        ({"manifest": "/tmp/m.yaml", "file": "/tmp/x.onnx", "model_b64": "AAAA", "manifest_yaml": "x"},
         "give either"),
        ({"model": "../etc", "manifest_yaml": MANIFEST, "model_b64": "AAAA"}, "field 'model'"),
        ({"url": "http://example.invalid/m.onnx"}, "field 'url'"),
    ],
)
async def test_malformed_update_is_invalid_and_names_the_field(
    dispatcher: CommandDispatcher, targets: Targets, fields: dict[str, Any], expected: str
) -> None:
    out = await answer(dispatcher, cmd(**fields))
    assert (out["ok"], out["code"]) == (False, "invalid")
    assert expected in out["message"]
    assert targets.camera.calls == []


async def test_missing_file_on_the_box_is_invalid(
    dispatcher: CommandDispatcher, targets: Targets, on_box: dict[str, Any], tmp_path: Path
) -> None:
    out = await answer(dispatcher, cmd(manifest=on_box["manifest"], file=str(tmp_path / "nowhere.onnx")))
    assert (out["ok"], out["code"]) == (False, "invalid")
    assert "field 'file': no such file on the box" in out["message"]
    assert targets.camera.calls == []


async def test_agent_without_a_driver_directory_says_not_supported(
    tmp_path: Path, on_box: dict[str, Any]
) -> None:
    d = make(tmp_path, TargetsWithoutDirectory())
    try:
        out = await answer(d, cmd(**on_box))
    finally:
        await d.close()
    assert (out["ok"], out["code"]) == (False, "not_supported")
