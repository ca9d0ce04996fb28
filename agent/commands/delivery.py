"""Answers into the outbox, so the uplink delivers them like any record: QoS 1, after a reconnect.

An answer is stored in the replay store first (the dispatcher does that), then accepted by the
outbox, then marked queued. If the agent dies in between, ``requeue`` at the next start hands the
stored answers to the outbox again; upstream dedups answers by command id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.commands.models import CommandResult
from agent.commands.replay import ReplayGuard
from agent.errors import CommandError, OutboxError
from agent.logs import RateLimiter, log_event, log_limited
from agent.outbox.api import OutboxWriter

log = logging.getLogger(__name__)
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0


class ResultDelivery:
    def __init__(self, outbox: OutboxWriter, store: ReplayGuard, clock: Callable[[], float]) -> None:
        self._outbox = outbox
        self._store = store
        self._clock = clock
        self._limiter = RateLimiter()

    async def deliver(self, answer: CommandResult) -> None:
        """Accept ``answer`` into the outbox, retrying while the outbox refuses (full, disk trouble)."""
        delay = RETRY_MIN_S
        while True:
            try:
                await self._outbox.accept([answer.to_event(self._clock())])
                break
            except OutboxError as exc:
                log_limited(self._limiter, log, "accept", "command_answer_not_queued", id=answer.id, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        if answer.id is not None:
            try:
                await asyncio.to_thread(self._store.mark_queued, answer.id, answer.to_json())
            except CommandError as exc:  # queued anyway; at worst it is queued again at the next start
                log_event(log, "command_answer_not_marked", logging.WARNING, id=answer.id, error=str(exc))

    async def requeue(self) -> None:
        for command_id, stored in await asyncio.to_thread(self._store.unqueued):
            log_event(log, "command_answer_requeued", id=command_id)
            await self.deliver(CommandResult.from_json(stored))
