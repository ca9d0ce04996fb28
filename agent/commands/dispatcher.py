"""Downlink commands: validate, check expiry/replay/authorisation, execute, answer -- never crash.

The daemon implements ``CommandTargets`` (find a device's driver, resend the birth). The uplink hands
every message on ``cmd/#`` to ``handle_message`` and publishes the bytes it returns on ``cmd-result``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Protocol

import orjson

from agent.commands.config import CommandsConfig
from agent.commands.model_update import MODEL_UPDATE_TIMEOUT_S, DriverDirectory, ModelUpdateRunner
from agent.commands.models import (
    Command,
    CommandResult,
    Ping,
    ReadPoint,
    ResendBirth,
    SetPeriod,
    UpdateModel,
    WritePoint,
)
from agent.commands.parse import parse_command, raw_id
from agent.commands.replay import ReplayGuard
from agent.errors import (
    CommandError,
    DeviceError,
    EdgepostError,
    TransportError,
    WriteOutcomeUnknown,
    WriteRejected,
    WriteVerifyFailed,
)
from agent.logs import log_event
from agent.recordjson import record_to_json, require_driver
from agent.records import JsonValue
from drivers.base import Driver, NotSupported

log = logging.getLogger(__name__)
DRIVER_CALL_TIMEOUT_S = 30.0
REPLAY_DB = "commands.sqlite"


class CommandTargets(Protocol):
    def driver_for(self, device: str) -> Driver[Any] | None: ...

    def resend_birth(self) -> None: ...


class CommandDispatcher:
    def __init__(
        self,
        config: CommandsConfig,
        targets: CommandTargets,
        state_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._targets = targets
        self._clock = clock
        self._replay = ReplayGuard(Path(state_dir) / REPLAY_DB, config.replay_window)
        self._models = ModelUpdateRunner(self._all_drivers, Path(state_dir))

    async def handle_message(self, topic_suffix: str, payload: bytes) -> bytes:
        """Uplink ``CommandHandler``: the JSON answer for one downlink message."""
        result = await self.handle(payload)
        return result.to_json()

    async def handle(self, payload: bytes) -> CommandResult:
        command_id: str | None = None
        try:
            command = parse_command(payload)
            command_id = command.id
            await self._admit(command)
            result = await self._execute(command)
            answer = CommandResult(id=command_id, ok=True, code="ok", result=result)
        except CommandError as exc:
            if command_id is None:
                command_id = _id_of(payload)
            answer = CommandResult(id=command_id, ok=False, code=exc.code, message=str(exc))
        log_event(log, "command", id=answer.id, ok=answer.ok, code=answer.code)
        return answer

    def close(self) -> None:
        self._replay.close()

    async def _admit(self, command: Command) -> None:
        if not self.config.enabled:
            raise CommandError("disabled", "downlink commands are disabled (commands.enabled: false)")
        now = self._clock()
        if command.expires_at <= now:
            raise CommandError("expired", f"command expired {now - command.expires_at:.1f} s ago")
        if command.expires_at > now + self.config.max_ttl_s:
            raise CommandError(
                "ttl_too_long",
                f"field 'expires_at': more than max_ttl_s={self.config.max_ttl_s:g} s in the future",
            )
        if isinstance(command, WritePoint):
            self._authorise_write(command)
        if isinstance(command, UpdateModel) and not self.config.model_updates:
            raise CommandError("unauthorised", "model updates are not allowed (commands.model_updates: false)")
        fresh = await asyncio.to_thread(self._replay.remember, command.id, command.expires_at, now)
        if not fresh:
            raise CommandError("replayed", f"command id {command.id!r} was already received")

    def _authorise_write(self, command: WritePoint) -> None:
        name = f"{command.device}.{command.point}"
        if not any(fnmatchcase(name, pattern) for pattern in self.config.writable):
            raise CommandError("unauthorised", f"{name} is not allowed by commands.writable")

    def _all_drivers(self) -> list[Driver[Any]]:
        if not isinstance(self._targets, DriverDirectory):
            raise CommandError("not_supported", "this agent cannot list its drivers for a model update")
        return list(self._targets.all_drivers())

    async def _execute(self, command: Command) -> JsonValue:
        limit = MODEL_UPDATE_TIMEOUT_S if isinstance(command, UpdateModel) else DRIVER_CALL_TIMEOUT_S
        try:
            async with asyncio.timeout(limit):
                return await self._run(command)
        except TimeoutError:
            raise CommandError("timeout", f"no answer within {limit:g} s") from None
        except WriteRejected as exc:
            raise CommandError("rejected", str(exc)) from None
        except NotSupported as exc:
            raise CommandError("not_supported", str(exc)) from None
        except WriteVerifyFailed as exc:
            raise CommandError("verify_failed", str(exc)) from None
        except WriteOutcomeUnknown as exc:  # sent once, unconfirmed: the caller decides about resending
            raise CommandError("unknown", str(exc)) from None
        except (DeviceError, TransportError) as exc:
            raise CommandError("device_error", str(exc)) from None
        except CommandError:
            raise
        except EdgepostError as exc:  # any other typed failure of the target still gets an answer
            raise CommandError("failed", f"{type(exc).__name__}: {exc}") from None

    async def _run(self, command: Command) -> JsonValue:
        if isinstance(command, Ping):
            return {"pong": True, "ts": self._clock()}
        if isinstance(command, ResendBirth):
            self._targets.resend_birth()
            return None
        if isinstance(command, WritePoint):
            driver = require_driver(self._targets, command.device)
            await driver.write_point(command.device, command.point, command.value, command.verify)
            return {"device": command.device, "point": command.point, "value": command.value}
        if isinstance(command, ReadPoint):
            reading = await require_driver(self._targets, command.device).read_point(command.device, command.point)
            return record_to_json(reading)
        if isinstance(command, SetPeriod):
            require_driver(self._targets, command.device).set_period(command.device, command.point, command.period_s)
            return {"device": command.device, "point": command.point, "period_s": command.period_s}
        if isinstance(command, UpdateModel):
            return await self._models.run(command)
        raise CommandError("unknown_kind", f"unhandled command kind {type(command).__name__}")


def _id_of(payload: bytes) -> str | None:
    try:
        return raw_id(orjson.loads(payload))
    except orjson.JSONDecodeError:
        return None
