"""The supervisor owns every long-running task's lifetime.

A supervised task that fails is logged and restarted with capped, jittered exponential back-off; one
that keeps running resets its back-off. This is the one place allowed to catch any exception: a bug
in one driver must not take down the buses, the outbox or the uplink of the others.

The loop-health monitor measures event-loop lag; the systemd watchdog is only fed while the lag is
below a bound, so a stalled loop gets the service restarted by systemd.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field

from agent.logs import log_event, render

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[None]]


@dataclass
class TaskState:
    name: str
    restarts: int = 0
    last_error: str | None = None
    running: bool = False
    started_at: float = field(default_factory=time.time)


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Full-jitter exponential back-off: uniform in [0, min(cap, base * 2**attempt)], at least base/2."""
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 30)))
    return max(base_s / 2, rng.uniform(0, ceiling))


class Supervisor:
    def __init__(self, base_backoff_s: float = 1.0, max_backoff_s: float = 60.0, seed: int | None = None) -> None:
        self._base = base_backoff_s
        self._cap = max_backoff_s
        self._rng = random.Random(seed)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.states: dict[str, TaskState] = {}

    def start(self, name: str, factory: TaskFactory, restart: bool = True) -> None:
        """Run ``factory()`` as task ``name``; with ``restart`` a failure starts it again after back-off."""
        if name in self._tasks and not self._tasks[name].done():
            raise RuntimeError(f"task {name} already running")
        state = self.states.setdefault(name, TaskState(name))
        self._tasks[name] = asyncio.create_task(self._guard(state, factory, restart), name=f"edgepost.{name}")

    async def _guard(self, state: TaskState, factory: TaskFactory, restart: bool) -> None:
        attempt = 0
        while True:
            state.running = True
            started = time.monotonic()
            try:
                await factory()
                log_event(log, "task_finished", task=state.name)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the supervisor is the one place that catches everything
                error = f"{type(exc).__name__}: {exc}"
                # the traceback once per distinct error; repeats are one line each, spaced by the back-off
                if error != state.last_error:
                    log.error(render("task_failed", {"task": state.name, "error": error}), exc_info=exc)
                else:
                    log_event(log, "task_failed", logging.ERROR, task=state.name, error=error, restarts=state.restarts)
                state.last_error = error
                state.restarts += 1
            finally:
                state.running = False
            if not restart:
                return
            if time.monotonic() - started > self._cap:
                attempt = 0  # it ran well for a while: start the back-off afresh
            delay = backoff_delay(attempt, self._base, self._cap, self._rng)
            attempt += 1
            log_event(log, "task_restart_scheduled", logging.WARNING, task=state.name, delay_s=round(delay, 2))
            await asyncio.sleep(delay)

    async def stop(self, name: str, timeout_s: float = 10.0) -> None:
        task = self._tasks.pop(name, None)
        if task is None:
            return
        task.cancel()
        with suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout_s)

    async def wait(self, name: str, timeout_s: float) -> bool:
        """Wait for task ``name`` to end by itself. False if it is still running after ``timeout_s``."""
        task = self._tasks.get(name)
        if task is None:
            return True
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        return bool(done)

    async def stop_all(self, timeout_s: float = 10.0) -> None:
        for name in list(self._tasks):
            await self.stop(name, timeout_s)

    def names(self) -> list[str]:
        return sorted(self._tasks)


class LoopHealth:
    """Measures event-loop lag with a periodic timer; healthy while lag stays under ``max_lag_s``."""

    def __init__(self, interval_s: float = 0.5, max_lag_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self.max_lag_s = max_lag_s
        self.lag_s = 0.0
        self.last_tick = time.monotonic()

    @property
    def healthy(self) -> bool:
        stalled_for = time.monotonic() - self.last_tick
        return self.lag_s < self.max_lag_s and stalled_for < self.max_lag_s + self.interval_s

    async def run(self, on_healthy: Callable[[], None] | None = None) -> None:
        while True:
            expected = time.monotonic() + self.interval_s
            await asyncio.sleep(self.interval_s)
            now = time.monotonic()
            self.lag_s = max(0.0, now - expected)
            self.last_tick = now
            if on_healthy is not None and self.healthy:
                on_healthy()
