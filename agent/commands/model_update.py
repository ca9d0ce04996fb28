"""The ``update_model`` downlink command: hand a new model version to every driver that runs that model.

Drivers offering it have ``async update_model(name, model_file, manifest_file) -> Event`` (the camera
driver). Each verifies the checksum, self-tests the candidate, swaps its live sessions and puts a
``model_updated`` / ``model_update_failed`` event into the pipeline; a driver that does not run the
model raises ``NotSupported`` and is skipped. Inline models are written to a scratch folder under the
state directory first. A driver's update is shielded: a command timeout or a dropped uplink session
never cancels a swap half-way (the event still tells how it ended).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent.commands.models import UpdateModel
from agent.errors import CommandError
from agent.logs import log_event
from agent.private_files import private_dir, write_private
from agent.records import Event, JsonValue
from drivers.base import Driver, NotSupported
from drivers.capabilities import ModelUpdates

log = logging.getLogger(__name__)
MODEL_UPDATE_TIMEOUT_S = 600.0  # load + self-test of a big model on a slow box
UPDATED = "model_updated"
SCRATCH_PREFIX = ".model-update-"

ModelUpdateCall = Callable[[str, Path, Path], Awaitable[Event]]


@runtime_checkable
class DriverDirectory(Protocol):
    """Command targets that can list every running driver (the daemon's services)."""

    def all_drivers(self) -> Iterable[Driver[Any]]: ...


def _updater(driver: Driver[Any]) -> ModelUpdateCall | None:
    return driver.update_model if isinstance(driver, ModelUpdates) else None


def _check_files(command: UpdateModel) -> tuple[Path, Path]:
    assert command.manifest is not None and command.file is not None
    manifest, model = Path(command.manifest), Path(command.file)
    for field, path in (("manifest", manifest), ("file", model)):
        if not path.is_file():
            raise CommandError("invalid", f"field '{field}': no such file on the box: {path}")
    return model, manifest


def _write_inline(command: UpdateModel, state_dir: Path) -> tuple[Path, Path, Path]:
    """(scratch folder, model file, manifest file) for an inline update; the caller removes the folder."""
    data = command.model_bytes
    assert data is not None and command.manifest_yaml is not None
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=private_dir(state_dir)))
    model, manifest = scratch / "model.onnx", scratch / "manifest.yaml"
    write_private(model, data)
    write_private(manifest, command.manifest_yaml.encode("utf-8"))
    return scratch, model, manifest


class ModelUpdateRunner:
    def __init__(self, drivers: Callable[[], Iterable[Driver[Any]]], state_dir: Path) -> None:
        self._drivers = drivers
        self._state_dir = state_dir
        self._running: set[asyncio.Task[list[Event]]] = set()

    async def run(self, command: UpdateModel) -> JsonValue:
        """The command result for a good update; ``CommandError`` (code ``failed``) for a failed one."""
        task = asyncio.create_task(self._update_all(command), name=f"commands.update_model[{command.model}]")
        self._running.add(task)  # keeps the shielded task alive after a timeout
        task.add_done_callback(self._running.discard)
        async with asyncio.timeout(MODEL_UPDATE_TIMEOUT_S):
            events = await asyncio.shield(task)
        failed = [e for e in events if e.kind != UPDATED]
        if failed:
            reasons = "; ".join(f"{e.device}: {e.data.get('reason')}" for e in failed)
            raise CommandError("failed", f"model_update_failed: {reasons}")
        first = events[0].data
        return {
            "model": command.model,
            "sha256": first.get("sha256"),
            "drivers": [e.device for e in events],
            "cameras": [c for e in events for c in _cameras(e)],
            "sessions": sum(int(s) for e in events if isinstance(s := e.data.get("sessions"), int)),
        }

    async def _update_all(self, command: UpdateModel) -> list[Event]:
        scratch: Path | None = None
        try:
            if command.model_b64 is not None:
                scratch, model, manifest = await asyncio.to_thread(_write_inline, command, self._state_dir)
            else:
                model, manifest = await asyncio.to_thread(_check_files, command)
            return await self._dispatch(command.model, model, manifest)
        except OSError as exc:
            raise CommandError("failed", f"cannot stage the inline model: {exc}") from None
        finally:
            if scratch is not None:
                await asyncio.to_thread(shutil.rmtree, scratch, True)

    async def _dispatch(self, name: str, model: Path, manifest: Path) -> list[Event]:
        events: list[Event] = []
        skipped: list[str] = []
        for driver in list(self._drivers()):
            update = _updater(driver)
            if update is None:
                continue
            try:
                event = await update(name, model, manifest)
            except NotSupported as exc:
                skipped.append(str(exc))
                continue
            log_event(log, "model_update_command", model=name, driver=driver.name, result=event.kind)
            events.append(event)
        if not events:
            why = "; ".join(skipped) or "no running driver offers model updates"
            raise CommandError("not_supported", f"no running driver uses model {name!r} ({why})")
        return events


def _cameras(event: Event) -> list[JsonValue]:
    cameras = event.data.get("cameras")
    return list(cameras) if isinstance(cameras, list) else []
