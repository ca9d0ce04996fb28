"""The CLI side of the control socket."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import getpass
import grp
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self

import orjson
from pydantic import ValidationError

from agent.control.protocol import MAX_LINE_BYTES, Request, Response, WatchRequest
from agent.errors import EdgepostError
from agent.records import JsonValue


class DaemonNotRunning(EdgepostError):
    """Nothing listens on the control socket."""


class ControlPermissionDenied(EdgepostError):
    """The socket exists but this user may not use it (not in group edgepost)."""


class RemoteError(EdgepostError):
    """The daemon answered with an error; ``kind`` is its error class name (``DeviceTimeout``...)."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class ProtocolError(EdgepostError):
    """The daemon's answer was not a valid control response."""


def daemon_listening(path: Path) -> bool:
    """True when a daemon accepts connections on ``path`` (cheap, synchronous probe)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except PermissionError:
        return True  # someone listens; the real request will report the permission problem
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _socket_group(path: Path) -> str | None:
    try:
        return grp.getgrgid(path.stat().st_gid).gr_name
    except (OSError, KeyError):
        return None


def permission_hint(path: Path, group: str | None) -> str:
    """Why this user may not use the daemon's socket, and the one command that fixes it."""
    actual = _socket_group(path)
    named = group or actual
    if named is None:
        return f"permission denied on {path}: run the command as root (the daemon gives the socket no group)"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "$USER"
    text = (
        f"permission denied on {path}: the daemon lets group {named!r} use it, and {user} is not in it "
        f"(sudo usermod -aG {named} {user}, then log in again)"
    )
    if group and actual and actual != group:
        text += f"; the socket's group is {actual!r}: does group {group!r} exist on this box?"
    return text


class ControlClient:
    """``async with ControlClient(path) as client: await client.call(StatusRequest())``."""

    def __init__(self, path: Path, timeout_s: float = 30.0, group: str | None = None) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.group = group  # the config's control.group, named when this user may not connect
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Self:
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(self.path, limit=MAX_LINE_BYTES)
        except PermissionError:
            raise ControlPermissionDenied(permission_hint(self.path, self.group)) from None
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
                raise DaemonNotRunning(f"the edgepost daemon is not running (no answer on {self.path})") from None
            raise DaemonNotRunning(f"cannot reach the daemon on {self.path}: {exc.strerror or exc}") from None
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def call(self, request: Request) -> JsonValue:
        """Send one request and return its result, raising ``RemoteError`` for an error answer."""
        await self._send(request)
        response = await self._receive(self.timeout_s)
        return _result(response)

    async def watch(self, request: WatchRequest) -> AsyncIterator[JsonValue]:
        """Yield each streamed record until the daemon ends the stream."""
        await self._send(request)
        first = await self._receive(self.timeout_s)
        _result(first)
        while True:
            response = await self._receive(None)
            result = _result(response)
            if not response.more:
                return
            yield result

    async def _send(self, request: Request) -> None:
        if self._writer is None:
            raise ProtocolError("control client is not connected")
        self._writer.write(request.model_dump_json().encode() + b"\n")
        try:
            await self._writer.drain()
        except ConnectionError as exc:
            raise DaemonNotRunning(f"the daemon closed the control socket: {exc}") from None

    async def _receive(self, timeout: float | None) -> Response:
        if self._reader is None:
            raise ProtocolError("control client is not connected")
        try:
            line = await asyncio.wait_for(self._reader.readline(), timeout)
        except TimeoutError:
            raise ProtocolError(f"the daemon did not answer within {self.timeout_s:g} s") from None
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            raise ProtocolError(f"control socket read failed: {exc}") from None
        if not line:
            raise DaemonNotRunning("the daemon closed the control socket")
        try:
            return Response.model_validate(orjson.loads(line))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise ProtocolError(f"invalid answer from the daemon: {exc}") from None


def _result(response: Response) -> JsonValue:
    if not response.ok:
        error = response.error
        raise RemoteError(error.kind if error else "Error", error.message if error else "unknown error")
    result: JsonValue = response.result
    return result
