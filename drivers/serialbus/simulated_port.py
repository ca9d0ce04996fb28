"""The serial port of a simulated line (any protocol): one end of a socat pty pair, read into a buffer.

``SimulatedPort`` owns what every simulated line does with its port: open it at the line's framing,
collect what the master writes (``_buffer``, with when it came off the pty, ``_received_at``), wait
for the rest of a partial frame (stale bytes are line noise, counted as garbage), write answers and
close. What frames the bytes and when an answer leaves (wire timing) is the protocol's: ``_serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import serial

from agent.errors import TransportError
from agent.logs import log_event


class CountsGarbage(Protocol):
    garbage: int


@dataclass(frozen=True)
class PortEvents:
    """The log events of one kind of simulated line."""

    started: str
    stopped: str
    lost: str
    write_failed: str


class SimulatedPort(ABC):
    """A serial port answered by simulated devices. ``await start()`` / ``await stop()`` on a running loop."""

    _log: ClassVar[logging.Logger]
    _events: ClassVar[PortEvents]
    _task_name: ClassVar[str]  # the serving task: f"{_task_name}[{port}]"
    # a partial frame with no new byte for this long is line noise, not a frame in progress
    _stale_partial_s: ClassVar[float]

    def __init__(self, port: str, baud: int, bytesize: int, parity: str, stopbits: int) -> None:
        self.port = port
        self._framing = (baud, bytesize, parity, stopbits)
        self._serial: serial.Serial | None = None
        self._task: asyncio.Task[None] | None = None
        self._data = asyncio.Event()
        self._buffer = bytearray()
        self._received_at = 0.0  # when the last bytes came off the pty

    @property
    @abstractmethod
    def stats(self) -> CountsGarbage: ...

    @abstractmethod
    def _started_fields(self) -> dict[str, Any]:
        """What the start event says about the devices on the line."""

    @abstractmethod
    async def _serve(self, fd: int) -> None:
        """Frame what is in ``_buffer`` (woken by ``_data``) and answer it, until cancelled."""

    async def start(self) -> None:
        baud, bytesize, parity, stopbits = self._framing
        try:
            self._serial = serial.Serial(
                self.port, baudrate=baud, bytesize=bytesize, parity=parity, stopbits=stopbits, timeout=0
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"simulator cannot open {self.port}: {exc}") from None
        fd = self._serial.fileno()
        self._serial.reset_input_buffer()
        asyncio.get_running_loop().add_reader(fd, self._on_readable, fd)
        self._task = asyncio.create_task(self._serve(fd), name=f"{self._task_name}[{self.port}]")
        log_event(self._log, self._events.started, port=self.port, baud=baud, **self._started_fields())

    async def stop(self) -> None:
        if self._serial is None:
            return
        asyncio.get_running_loop().remove_reader(self._serial.fileno())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._serial.close()
        self._serial = None
        counters: dict[str, Any] = vars(self.stats)
        log_event(self._log, self._events.stopped, port=self.port, **counters)

    def _on_readable(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:  # the other end of the pty went away
            log_event(self._log, self._events.lost, logging.WARNING, port=self.port, error=str(exc))
            asyncio.get_running_loop().remove_reader(fd)
            return
        self._received_at = time.perf_counter()
        self._buffer += chunk
        self._data.set()

    async def _wait_rest_of_frame(self) -> None:
        try:
            async with asyncio.timeout(self._stale_partial_s):  # not wait_for: on 3.11 it can swallow a cancel
                await self._data.wait()
        except TimeoutError:
            self.stats.garbage += len(self._buffer)
            self._buffer.clear()

    def _write(self, fd: int, frame: bytes) -> None:
        try:
            os.write(fd, frame)
        except OSError as exc:
            log_event(self._log, self._events.write_failed, logging.WARNING, port=self.port, error=str(exc))
