"""A serial port as a byte pipe: pymodbus' asyncio ``SerialTransport`` under a receive buffer.

Nothing here knows about frames. The master above it asks for the bytes received so far, waits for
more until a deadline, and flushes the input; ``last_rx`` says when the line last carried anything,
which is what the RTU silent interval is measured from. Nothing here reopens either: ``open`` is one
attempt (``PortMissing`` when the device file is not there), ``wait_lost`` returns when the port goes
away, and the bus's ``LinkKeeper`` (``link.py``) decides when to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import time
from typing import Any

import serial
from pymodbus.transport.serialtransport import SerialTransport

from agent.errors import TransportError


class PortMissing(TransportError):
    """The serial port's device file does not exist (a USB adapter not enumerated, or unplugged)."""


# a serial port that takes no byte for this long is stuck (flow control, a dead USB adapter)
_WRITE_STALL_S = 2.0


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
    """A stat of a device node: no I/O on the line, nothing to hand to a thread. A USB adapter not
    enumerated (or unplugged) is said so, without an open attempt."""
    return os.path.exists(path)


def _close_when_opened(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().sync_serial.close()


class SerialLink:
    """One serial port (a device path or a pyserial URL such as ``socket://host:port``)."""

    def __init__(
        self,
        port: str,
        baudrate: int,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        clock: Any = time.monotonic,
    ) -> None:
        self.port = port
        self._settings = {"baudrate": baudrate, "bytesize": bytesize, "parity": parity, "stopbits": stopbits}
        self._clock = clock
        self._transport: Any = None
        self._buffer = bytearray()
        self._arrived = asyncio.Event()
        self._gone = asyncio.Event()  # set when an open port is lost (not when we close it)
        self.last_rx = clock() - 1.0
        self.lost_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self._transport is not None

    @property
    def sync_serial(self) -> Any:
        """The pyserial object underneath (for RS-485 ioctls), None while closed."""
        return getattr(self._transport, "sync_serial", None)

    async def open(self) -> None:
        """One attempt to open the port; ``PortMissing`` or ``TransportError`` when it fails."""
        if self._transport is not None:
            return
        if "://" not in self.port and not _exists(self.port):
            raise PortMissing(f"{self.port} does not exist")
        loop = asyncio.get_running_loop()
        receiver = _Receiver(self)
        s = self._settings
        # in a thread: opening a socket:// URL connects, which can take seconds on a dead network
        opening = asyncio.ensure_future(
            asyncio.to_thread(
                _open_transport, loop, receiver, self.port, s["baudrate"], s["bytesize"], s["parity"], s["stopbits"]
            )
        )
        try:
            transport = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_when_opened)  # a port opened for nobody is closed again
            raise
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            # termios.error: the port refuses a setting (a pty has no parity), pyserial passes it on raw
            raise TransportError(f"cannot open {self.port}: {_reason(exc)}") from None
        transport.setup()  # registers the reader and calls connection_made on the next loop turn
        await receiver.made.wait()
        self._transport = transport
        self.lost_reason = None
        self._buffer.clear()
        self._gone.clear()

    async def __aenter__(self) -> SerialLink:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def wait_lost(self) -> None:
        """Return once the open port is gone (unplugged, the serial server closed the connection).
        A port we closed ourselves is not lost: then this waits until cancelled."""
        while self._transport is not None or not self._gone.is_set():
            await self._gone.wait()

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    async def send(self, data: bytes) -> None:
        """Hand ``data`` to the OS; returns once none of it is left in our buffer (so a close right
        after, as the CLI does after a broadcast, cannot drop it)."""
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
            with contextlib.suppress(serial.SerialException, OSError):  # a vanished port shows on the next write
                port.reset_input_buffer()

    def _received(self, data: bytes) -> None:
        self.last_rx = self._clock()
        self._buffer += data
        self._arrived.set()

    def _lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.lost_reason = str(exc) if exc else "closed"
        self._arrived.set()
        self._gone.set()


def _open_transport(
    loop: asyncio.AbstractEventLoop, receiver: asyncio.Protocol, port: str, baud: Any, bytesize: Any, parity: Any,
    stopbits: Any,
) -> SerialTransport:
    try:
        return SerialTransport(loop, receiver, port, baud, bytesize, parity, stopbits, 0)
    except BaseException as exc:
        _close_half_open(exc)
        raise


def _close_half_open(exc: BaseException) -> None:
    """pymodbus opens the port, then sets its timeout, which applies every setting again; when that
    fails (a pty takes parity once, then refuses it) the open port, with its exclusive lock, is left
    behind and every later open of that port fails. Close it: the failed ``__init__`` still holds it."""
    trace = exc.__traceback__
    while trace is not None:
        candidate = trace.tb_frame.f_locals.get("self")
        if isinstance(candidate, SerialTransport):
            half_open = getattr(candidate, "sync_serial", None)
            if half_open is not None:
                with contextlib.suppress(serial.SerialException, OSError):
                    half_open.close()
        trace = trace.tb_next


def _reason(exc: BaseException) -> str:
    if isinstance(exc, termios.error) and len(exc.args) == 2:
        return f"the port refuses these settings ({exc.args[1]})"
    return str(exc)
