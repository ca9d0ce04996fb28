"""Downlink commands: validate, check expiry/replay/authorisation, execute, answer -- never crash.

The daemon implements ``CommandTargets`` (find a device's driver, resend the birth). The uplink hands
every message on ``cmd/#`` to ``submit``, which runs it in a task the dispatcher owns, not the MQTT
session: a dropped connection neither cancels a write half-way nor loses its answer. Every answer
goes into the outbox (``ResultDelivery``) and the uplink sends it on ``cmd-result`` like any record,
after a reconnect if need be. A command id runs once: a retry of it gets the stored answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Protocol

from agent.commands.config import CommandsConfig
from agent.commands.delivery import ResultDelivery
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
from agent.commands.outcomes import UNKNOWN, code_for, message_for
from agent.commands.parse import parse_command, payload_id
from agent.commands.replay import ReplayGuard
from agent.errors import CommandError
from agent.logs import log_event, render
from agent.outbox.api import OutboxWriter
from agent.recordjson import record_to_json, require_driver
from agent.records import JsonValue
from drivers.base import Driver, PeriodRefused

log = logging.getLogger(__name__)
DRIVER_CALL_TIMEOUT_S = 30.0
CLOSE_WAIT_S = 5.0  # a command still running at stop gets this long to finish and queue its answer
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
        results: OutboxWriter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._targets = targets
        self._clock = clock
        self._replay = ReplayGuard(Path(state_dir) / REPLAY_DB, config.replay_window)
        self._delivery = ResultDelivery(results, self._replay, clock) if results is not None else None
        self._models = ModelUpdateRunner(self._all_drivers, Path(state_dir))
        self._running: dict[str, asyncio.Future[CommandResult]] = {}  # command id -> its answer
        self._tasks: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        """Queue (in the background) the answers a previous run stored but did not hand to the outbox."""
        if self._delivery is not None:
            self._spawn(self._delivery.requeue(), "commands.requeue")

    def submit(self, topic_suffix: str, payload: bytes) -> None:
        """Uplink ``CommandHandler``: answer one downlink message in the background (through the outbox)."""
        self._spawn(self.handle(payload), "commands.handle")

    def _spawn(self, work: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle_message(self, topic_suffix: str, payload: bytes) -> bytes:
        """The JSON answer for one downlink message (also queued for the uplink when there is an outbox)."""
        result = await self.handle(payload)
        return result.to_json()

    async def handle(self, payload: bytes) -> CommandResult:
        answer = await self._answer(payload)
        log_event(log, "command", id=answer.id, ok=answer.ok, code=answer.code)
        if self._delivery is not None:
            await self._delivery.deliver(answer)
        return answer

    async def close(self) -> None:
        """Let running commands finish (bounded), then stop; their answers stay queued or stored."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=CLOSE_WAIT_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._replay.close()

    async def _answer(self, payload: bytes) -> CommandResult:
        try:
            command = parse_command(payload)
            self._check(command)
        except CommandError as exc:
            return CommandResult(id=payload_id(payload), ok=False, code=exc.code, message=str(exc))
        running = self._running.get(command.id)
        if running is not None:  # the same id again while it runs: the one execution answers both
            return await asyncio.shield(running)
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._running[command.id] = future
        try:
            answer = await self._run_once(command)
            future.set_result(answer)
            return answer
        finally:
            if not future.done():
                future.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                future.exception()  # retrieved: a cancelled run must not log "never retrieved"
            del self._running[command.id]

    async def _run_once(self, command: Command) -> CommandResult:
        """Claim the id; run the command if new, else return what the store knows of it."""
        try:
            prior = await asyncio.to_thread(self._replay.claim, command.id, command.expires_at, self._clock())
        except CommandError as exc:
            return CommandResult(id=command.id, ok=False, code=exc.code, message=str(exc))
        if prior is not None and prior.answer is not None:
            return CommandResult.from_json(prior.answer)
        if prior is not None:
            answer = CommandResult(
                id=command.id, ok=False, code=UNKNOWN,
                message="this id was received before the agent restarted and no answer was recorded: "
                "it may or may not have run",
            )
        else:
            answer = await self._execute(command)
        await asyncio.to_thread(self._store, command, answer)
        return answer

    def _store(self, command: Command, answer: CommandResult) -> None:
        try:
            self._replay.store_answer(command.id, command.expires_at, self._clock(), answer.to_json())
        except CommandError as exc:  # the answer still goes out; only a later retry would not find it
            log_event(log, "command_answer_not_stored", logging.WARNING, id=command.id, error=str(exc))

    def _check(self, command: Command) -> None:
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
            name = f"{command.device}.{command.point}"
            if not any(fnmatchcase(name, pattern) for pattern in self.config.writable):
                raise CommandError("unauthorised", f"{name} is not allowed by commands.writable")
        if isinstance(command, UpdateModel) and not self.config.model_updates:
            raise CommandError("unauthorised", "model updates are not allowed (commands.model_updates: false)")

    def _all_drivers(self) -> list[Driver[Any]]:
        if not isinstance(self._targets, DriverDirectory):
            raise CommandError("not_supported", "this agent cannot list its drivers for a model update")
        return list(self._targets.all_drivers())

    async def _execute(self, command: Command) -> CommandResult:
        limit = MODEL_UPDATE_TIMEOUT_S if isinstance(command, UpdateModel) else DRIVER_CALL_TIMEOUT_S
        try:
            async with asyncio.timeout(limit):
                result = await self._run(command)
        except Exception as exc:  # drivers are plugins: whatever one raises, the command is answered
            code = code_for(exc, isinstance(command, WritePoint))
            if code == "failed" and not isinstance(exc, CommandError):
                log.warning(render("command_target_failed", {"id": command.id, "error": repr(exc)}), exc_info=exc)
            extra: JsonValue = {"min_period_s": exc.minimum_s} if isinstance(exc, PeriodRefused) else None
            return CommandResult(id=command.id, ok=False, code=code, message=message_for(exc, code, limit),
                                 result=extra)
        return CommandResult(id=command.id, ok=True, code="ok", result=result)

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
            floor = self.config.min_period_s
            if command.period_s < floor:
                raise PeriodRefused(f"field 'period_s': below commands.min_period_s={floor:g} s", floor)
            driver = require_driver(self._targets, command.device)
            effective = driver.set_period(command.device, command.point, command.period_s)
            return {"device": command.device, "point": command.point, "period_s": effective,
                    "requested_s": command.period_s}
        if isinstance(command, UpdateModel):
            return await self._models.run(command)
        raise CommandError("unknown_kind", f"unhandled command kind {type(command).__name__}")

