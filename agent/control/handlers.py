"""What each control request does, against the daemon's ``Runtime`` only.

Bus work (raw verbs: register reads and writes, identify ...) goes through the driver that already
owns the bus, so its single request queue keeps serialising frames: the CLI never opens a port the
daemon holds. Drivers are reached through their capabilities (``drivers.capabilities``), never by name.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import time
import uuid
from typing import Any

from pydantic import BaseModel, ValidationError

from agent.commands.model_update import MODEL_UPDATE_TIMEOUT_S, ModelUpdateRunner
from agent.commands.models import UpdateModel
from agent.control.protocol import (
    BufferPurgeRequest,
    BufferStatsRequest,
    ForgetLearnedRequest,
    ModelUpdateRequest,
    RawRequest,
    ReadPointRequest,
    ReloadRequest,
    Request,
    SnapshotRequest,
    StatusRequest,
    SyncNowRequest,
    WritePointRequest,
)
from agent.errors import CommandError, RequestRefused
from agent.recordjson import record_to_json, require_driver
from agent.records import JsonValue
from agent.runtime import Runtime
from drivers.base import NotSupported
from drivers.capabilities import RawAccess, Snapshots


def to_json(value: Any) -> JsonValue:
    """Plain JSON from the dataclasses, pydantic models and enums drivers hand back."""
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, BaseModel):
        return to_json(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def driver_for_bus(runtime: Runtime, bus: str) -> RawAccess:
    """The running driver that owns the bus named ``bus``."""
    known: list[str] = []
    for driver in runtime.drivers.values():
        if isinstance(driver, RawAccess):
            names = driver.bus_names()
            if bus in names:
                return driver
            known += names
    raise CommandError("unknown_bus", f"no bus named {bus!r} (daemon buses: {', '.join(known) or 'none'})")


async def raw(runtime: Runtime, request: RawRequest) -> JsonValue:
    """One raw verb on a bus the daemon holds; its arguments are checked by the owning driver's model."""
    driver = driver_for_bus(runtime, request.bus)
    verbs = driver.raw_verbs()
    args_model = verbs.get(request.verb)
    if args_model is None:
        raise NotSupported(f"bus {request.bus}: no raw verb {request.verb!r} (verbs: {', '.join(sorted(verbs))})")
    try:
        args = args_model.model_validate(request.args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors())
        raise RequestRefused(f"raw {request.verb} on {request.bus}: {problems}") from None
    return to_json(await driver.raw(request.bus, request.verb, args))


async def handle(runtime: Runtime, request: Request) -> JsonValue:
    """Answer one non-streaming request. Errors propagate as typed ``EdgepostError``s."""
    if isinstance(request, StatusRequest):
        return runtime.status()
    if isinstance(request, ReadPointRequest):
        reading = await require_driver(runtime, request.device).read_point(request.device, request.point)
        return record_to_json(reading)
    if isinstance(request, WritePointRequest):
        driver = require_driver(runtime, request.device)
        written = await driver.write_point(request.device, request.point, request.value, request.verify)
        return {"device": request.device, "point": request.point, "value": request.value, "written": written}
    if isinstance(request, RawRequest):
        return await raw(runtime, request)
    if isinstance(request, SyncNowRequest):
        await runtime.sync_now()
        return None
    if isinstance(request, BufferStatsRequest):
        return to_json(await runtime.outbox_stats())
    if isinstance(request, BufferPurgeRequest):
        return {"purged": await runtime.purge(request.device, request.before)}
    if isinstance(request, SnapshotRequest):
        driver = require_driver(runtime, request.camera)
        if not isinstance(driver, Snapshots):
            raise NotSupported(f"{driver.name}: snapshot is not supported by this driver")
        jpeg = await driver.snapshot(request.camera)
        return {"jpeg_base64": base64.b64encode(jpeg).decode()}
    if isinstance(request, ForgetLearnedRequest):
        forgotten = await require_driver(runtime, request.device).forget_learned(request.device)
        return to_json(forgotten)
    if isinstance(request, ReloadRequest):
        problems = await runtime.reload()
        # which file the daemon re-read: the CLI shows it, so a reload of the wrong daemon is visible
        return {"reloaded": not problems, "problems": list(problems), "config": str(runtime.config_path)}
    if isinstance(request, ModelUpdateRequest):
        return await _update_model(runtime, request)
    raise CommandError("unknown_op", f"operation {request.op!r} is not handled here")


async def _update_model(runtime: Runtime, request: ModelUpdateRequest) -> JsonValue:
    """The ``update_model`` downlink command's path, for the CLI: each driver running the model installs,
    self-tests and swaps it, and reports it upstream. ``NotSupported`` when no running driver runs it."""
    command = UpdateModel(
        kind="update_model", id=f"control-{uuid.uuid4().hex}", expires_at=time.time() + MODEL_UPDATE_TIMEOUT_S,
        model=request.model, manifest=request.manifest, file=request.file,
    )
    try:
        return await ModelUpdateRunner(lambda: runtime.drivers.values(), runtime.config.state_dir).run(command)
    except CommandError as exc:
        if exc.code == "not_supported":
            raise NotSupported(str(exc)) from None
        raise
