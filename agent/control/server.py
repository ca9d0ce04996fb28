"""The daemon side of the control socket: JSON lines over a unix socket, never TCP.

The socket file is mode 0660 and group ``group`` (``edgepost``) when that group exists, so a
technician in that group can use the CLI without root. Each connection may send several requests
in turn; ``watch`` streams until the client goes away or the daemon stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
import stat
from pathlib import Path

import orjson
from pydantic import ValidationError

from agent.control.handlers import handle
from agent.control.protocol import MAX_LINE_BYTES, ErrorBody, Request, Response, WatchRequest, request_adapter
from agent.errors import EdgepostError
from agent.logs import log_event
from agent.private_files import private_dir
from agent.recordjson import record_to_json
from agent.runtime import Runtime

_log = logging.getLogger(__name__)

SOCKET_MODE = 0o660


class ControlSocketError(EdgepostError):
    """The control socket could not be created (path in use by a live daemon, permissions)."""


def encode(response: Response) -> bytes:
    return orjson.dumps(response.model_dump(mode="json", exclude_defaults=True)) + b"\n"


def error_response(exc: BaseException, kind: str | None = None) -> Response:
    return Response(ok=False, error=ErrorBody(kind=kind or type(exc).__name__, message=str(exc)))


class ControlServer:
    def __init__(self, runtime: Runtime, path: Path, group: str | None = "edgepost") -> None:
        self.runtime = runtime
        self.path = path
        self.group = group
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        private_dir(self.path.parent)
        _remove_stale_socket(self.path)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=self.path, limit=MAX_LINE_BYTES)
        except OSError as exc:
            raise ControlSocketError(f"control socket {self.path}: {exc.strerror or exc}") from None
        os.chmod(self.path, SOCKET_MODE)
        self._apply_group()
        log_event(_log, "control_listening", path=str(self.path))

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _apply_group(self) -> None:
        if not self.group:
            return
        try:
            gid = grp.getgrnam(self.group).gr_gid
        except KeyError:
            log_event(_log, "control_group_missing", logging.WARNING, group=self.group, path=str(self.path))
            return
        try:
            os.chown(self.path, -1, gid)
        except OSError as exc:
            log_event(_log, "control_chown_failed", logging.WARNING, group=self.group, error=str(exc))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while line := await reader.readline():
                if not await self._answer(line, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client went away or sent an oversized line; nothing to answer
        except asyncio.CancelledError:
            pass  # stop() ends open connections; this leaf task has nothing else to unwind
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, line: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request line. False ends the connection (after a finished stream)."""
        try:
            request: Request = request_adapter.validate_json(line)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors())
            writer.write(encode(Response(ok=False, error=ErrorBody(kind="BadRequest", message=problems))))
            await writer.drain()
            return True
        if isinstance(request, WatchRequest):
            await self._watch_until_hangup(request, reader, writer)
            return False
        try:
            result = await handle(self.runtime, request)
            response = Response(ok=True, result=result)
        except EdgepostError as exc:
            response = error_response(exc)
        log_event(_log, "control_request", logging.DEBUG, op=request.op, ok=response.ok)
        writer.write(encode(response))
        await writer.drain()
        return True

    async def _watch_until_hangup(
        self, request: WatchRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Stream until the records end or the client hangs up (seen at once, not at the next record)."""
        stream = asyncio.create_task(self._watch(request, writer), name="control.watch")
        hangup = asyncio.create_task(reader.read(), name="control.watch-hangup")
        try:
            await asyncio.wait({stream, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stream, hangup):
                task.cancel()
            results = await asyncio.gather(stream, hangup, return_exceptions=True)
        error = results[0]
        if isinstance(error, BaseException) and not isinstance(error, asyncio.CancelledError | ConnectionError):
            raise error

    async def _watch(self, request: WatchRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(encode(Response(ok=True, result={"watching": True}, more=True)))
        await writer.drain()
        records = self.runtime.subscribe()
        try:
            async for record in records:
                if request.device is not None and record.device != request.device:
                    continue
                writer.write(encode(Response(ok=True, result=record_to_json(record), more=True)))
                await writer.drain()
        finally:
            aclose = getattr(records, "aclose", None)
            if aclose is not None:
                await aclose()
        writer.write(encode(Response(ok=True, result={"watching": False})))
        await writer.drain()


def _remove_stale_socket(path: Path) -> None:
    """Remove a socket left by a crashed daemon; refuse to steal one a live daemon answers on."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlSocketError(f"control socket {path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: stale
        return
    finally:
        probe.close()
    raise ControlSocketError(f"control socket {path}: another edgepost daemon is already listening")
