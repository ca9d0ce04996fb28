"""A serial port as a byte pipe: pymodbus' asyncio ``SerialTransport`` under a receive buffer.

The same interface as ``SerialLink`` of the RTU master (serial-reply branch, ``ByteLink`` in
``master.py``), so the shared RS-485 bus service can hand either protocol's master the one port it
owns. Until that merge lands this stand-in lets the DL/T 645 master run on a real pty. Nothing here
knows about frames, and nothing reopens: ``open`` is one attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import time
from collections.abc import Callable
from typing import Any

import serial
from pymodbus.transport.serialtransport import SerialTransport

from agent.errors import TransportError

_WRITE_STALL_S = 2.0  # a port that takes no byte for this long is stuck


class _Receiver(asyncio.Protocol):
    def __init__(self, link: SerialLink) -> None:
        self._link = link
        self.made = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.set()

    def data_received(self, data: bytes) -> None:
        self._link._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._link._lost(exc)


def _exists(path: str) -> bool:
    """A stat of the device node: a USB adapter not plugged in is said so without an open attempt."""
    return os.path.exists(path)


class SerialLink:
    """One serial port (a device path or a pyserial URL such as ``socket://host:port``)."""

    def __init__(
        self,
        port: str,
        baudrate: int = 2400,
        bytesize: int = 8,
        parity: str = "E",
        stopbits: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self._settings = (baudrate, bytesize, parity, stopbits)
        self._clock = clock
        self._transport: Any = None
        self._buffer = bytearray()
        self._arrived = asyncio.Event()
        self.last_rx = clock() - 1.0
        self.lost_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self._transport is not None

    @property
    def sync_serial(self) -> Any:
        return getattr(self._transport, "sync_serial", None)

    async def open(self) -> None:
        if self._transport is not None:
            return
        if "://" not in self.port and not _exists(self.port):
            raise TransportError(f"{self.port} does not exist")
        loop = asyncio.get_running_loop()
        receiver = _Receiver(self)
        baudrate, bytesize, parity, stopbits = self._settings
        try:
            transport = await asyncio.to_thread(
                SerialTransport, loop, receiver, self.port, baudrate, bytesize, parity, stopbits, 0
            )
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            # a pty accepts no parity: its second reconfiguration fails with EINVAL
            raise TransportError(f"cannot open {self.port} ({baudrate} {bytesize}{parity}{stopbits}): {exc}") from None
        transport.setup()
        await receiver.made.wait()
        self._transport = transport
        self.lost_reason = None
        self._buffer.clear()

    async def __aenter__(self) -> SerialLink:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    async def send(self, data: bytes) -> None:
        """Hand ``data`` to the OS; returns once none of it is left in our buffer."""
        transport = self._transport
        if transport is None:
            raise TransportError(f"{self.port} is not open" + (f" ({self.lost_reason})" if self.lost_reason else ""))
        transport.write(data)
        deadline = self._clock() + _WRITE_STALL_S
        while transport.get_write_buffer_size():
            if self._transport is None or self._clock() > deadline:
                raise TransportError(f"{self.port}: write did not complete")
            await asyncio.sleep(0.0005)

    def take(self) -> bytes:
        """Every byte received since the last ``take``."""
        data = bytes(self._buffer)
        self._buffer.clear()
        self._arrived.clear()
        return data

    async def wait_bytes(self, deadline: float) -> bool:
        """Wait until bytes are buffered or the monotonic ``deadline`` passes; True when there are."""
        while not self._buffer:
            remaining = deadline - self._clock()
            if remaining <= 0 or self._transport is None:
                return False
            self._arrived.clear()
            try:
                async with asyncio.timeout(remaining):  # not wait_for: on 3.11 it can swallow a cancel
                    await self._arrived.wait()
            except TimeoutError:
                return bool(self._buffer)
        return True

    def flush_input(self) -> None:
        """Drop what was received, here and in the OS buffer."""
        self._buffer.clear()
        port = self.sync_serial
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.reset_input_buffer()

    def _received(self, data: bytes) -> None:
        self.last_rx = self._clock()
        self._buffer += data
        self._arrived.set()

    def _lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.lost_reason = str(exc) if exc else "closed"
        self._arrived.set()
