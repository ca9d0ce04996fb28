"""Samples the agent every ``period_s``: RSS and CPU (psutil), outbox depth and uplink state (control
socket). ``async with Sampler(agent, period) as sampler``; ``sampler.samples`` afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Self

import psutil

from agent.control.client import ControlClient
from agent.control.protocol import BufferStatsRequest, StatusRequest
from agent.errors import EdgepostError
from rig.pole.agent_process import AgentProcess


@dataclass(frozen=True)
class Sample:
    t: float
    pid: int | None
    rss_mb: float | None
    cpu_percent: float | None
    outbox_records: int | None
    connected: bool | None
    answered: bool  # the control socket answered status


@dataclass
class Sampler:
    agent: AgentProcess
    period_s: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _process: Any = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._loop(), name="rig.sampler")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop sampling (idempotent)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            self.samples.append(await self.sample())
            await asyncio.sleep(max(0.0, self.period_s - (time.monotonic() - started)))

    def _resources(self, pid: int | None) -> tuple[float | None, float | None]:
        if pid is None:
            self._process = None
            return None, None
        try:
            if self._process is None or self._process.pid != pid:
                self._process = psutil.Process(pid)
                self._process.cpu_percent(None)  # primes the counter; the first value would be 0
                return self._process.memory_info().rss / 2**20, None
            return self._process.memory_info().rss / 2**20, float(self._process.cpu_percent(None))
        except psutil.Error:
            self._process = None
            return None, None

    async def sample(self) -> Sample:
        pid = self.agent.pid
        rss, cpu = self._resources(pid)
        records: int | None = None
        connected: bool | None = None
        answered = False
        if pid is not None:
            try:
                async with ControlClient(self.agent.control_socket, timeout_s=max(self.period_s, 2.0)) as client:
                    status = await client.call(StatusRequest())
                    answered = True
                    stats = await client.call(BufferStatsRequest())
                if isinstance(status, dict) and isinstance(uplink := status.get("uplink"), dict):
                    connected = bool(uplink.get("connected"))
                if isinstance(stats, dict) and isinstance(stats.get("records"), int):
                    records = int(stats["records"])  # type: ignore[arg-type]
            except (EdgepostError, OSError):
                pass  # a busy or restarting agent: this sample shows it did not answer
        return Sample(time.time(), pid, rss, cpu, records, connected, answered)
