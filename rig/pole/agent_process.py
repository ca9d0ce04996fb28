"""The agent as deployed: its console script (``edgepost --config FILE run``) as a separate process.

``async with AgentProcess(...) as agent``: ``await agent.start()`` waits until the control socket
answers; ``kill9()``, ``terminate()`` (returns the exit code, or None when it hung past the timeout),
``sighup()``. Output goes to one log file across restarts, each line stamped with the wall-clock time
it arrived (the agent logs for journald, which adds its own); ``log_since(offset)`` reads new lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from agent.control.client import ControlClient
from agent.control.protocol import StatusRequest
from agent.errors import EdgepostError
from rig.errors import PoleError


def agent_command() -> list[str]:
    """The installed ``edgepost`` script beside this interpreter, else ``python -m agent.cli.main``."""
    beside = Path(sys.executable).parent / "edgepost"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("edgepost")
    return [found] if found else [sys.executable, "-m", "agent.cli.main"]


@dataclass
class Exit:
    t: float
    code: int | None  # None: did not exit in time (a hang)
    how: str  # "kill9", "sigterm", "crash", "refused"


@dataclass
class AgentProcess:
    config: Path
    log_path: Path
    control_socket: Path
    env: dict[str, str] = field(default_factory=dict)
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 30.0
    exits: list[Exit] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    _proc: asyncio.subprocess.Process | None = None
    _reaped: bool = False  # the current process's exit is already in ``exits``
    _copier: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.running:
            code = await self.terminate()
            if code is None:
                await self.kill9()
        await self._stop_copying()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    def notice_exit(self) -> None:
        """An exit the rig did not cause (found when it next signals the process)."""
        if self._proc is not None and self._proc.returncode is not None and not self._reaped:
            self.exits.append(Exit(time.time(), self._proc.returncode, "crash"))
            self._reaped = True

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def spawn(self) -> asyncio.subprocess.Process:
        """Start the process without waiting for it to be ready."""
        if self.running:
            raise PoleError("the agent is already running")
        self.notice_exit()
        env = {**os.environ, **self.env}
        await self._stop_copying()
        self._proc = await asyncio.create_subprocess_exec(
            *agent_command(), "--config", str(self.config), "run",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        assert self._proc.stdout is not None
        self._copier = asyncio.create_task(self._copy(self._proc.stdout), name="rig.agent-log")
        self._reaped = False
        self.starts.append(time.time())
        return self._proc

    async def start(self) -> None:
        """Spawn and wait until ``status`` answers on the control socket."""
        proc = await self.spawn()
        deadline = time.monotonic() + self.start_timeout_s
        while not await self.answers_status():
            if proc.returncode is not None:
                self.notice_exit()
                raise PoleError(f"the agent exited with {proc.returncode} at start; log: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise PoleError(f"the agent did not answer status within {self.start_timeout_s:g} s")
            await asyncio.sleep(0.2)

    async def wait_exit(self, timeout_s: float) -> int | None:
        """Wait for an exit the rig expects (an invalid config at start): not counted as a crash."""
        code = await self._wait(timeout_s)
        if code is not None:
            self.exits.append(Exit(time.time(), code, "refused"))
            self._reaped = True
        return code

    async def _wait(self, timeout_s: float) -> int | None:
        if self._proc is None:
            return None
        try:
            async with asyncio.timeout(timeout_s):
                return await self._proc.wait()
        except TimeoutError:
            return None

    async def answers_status(self, timeout_s: float = 5.0) -> bool:
        try:
            async with ControlClient(self.control_socket, timeout_s=timeout_s) as client:
                await client.call(StatusRequest())
        except (EdgepostError, OSError):
            return False
        return True

    async def kill9(self) -> None:
        self.notice_exit()
        if self._proc is None or self._proc.returncode is not None:
            return
        self._proc.send_signal(signal.SIGKILL)
        code = await self._proc.wait()
        self.exits.append(Exit(time.time(), code, "kill9"))
        self._reaped = True

    async def terminate(self) -> int | None:
        """SIGTERM; the exit code, or None when the agent hung past ``stop_timeout_s`` (then it is killed)."""
        self.notice_exit()
        if self._proc is None or self._proc.returncode is not None:
            return self._proc.returncode if self._proc is not None else None
        self._proc.send_signal(signal.SIGTERM)
        code = await self._wait(self.stop_timeout_s)
        self.exits.append(Exit(time.time(), code, "sigterm"))
        self._reaped = True
        if code is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGKILL)
            await self._proc.wait()
        return code

    async def _copy(self, stream: asyncio.StreamReader) -> None:
        with self.log_path.open("ab", buffering=0) as log:
            while line := await stream.readline():
                stamp = time.strftime("%H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d} "
                log.write(stamp.encode() + line)

    async def _stop_copying(self) -> None:
        """The previous process's output is copied to the end before a new one starts."""
        if self._copier is not None:
            await asyncio.wait([self._copier], timeout=5.0)
            self._copier.cancel()
            self._copier = None

    def sighup(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGHUP)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 1500) -> str:
        return self.log_since(max(0, self.log_size() - chars))
