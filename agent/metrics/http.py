"""A tiny HTTP/1.0 server for ``GET /metrics`` on 127.0.0.1 only (never another interface).

On the event loop, not prometheus_client's threaded server: the status it serves belongs to the loop
(reading it from another thread would race the components updating it). The body comes from
prometheus_client's encoders, in the format the scraper's ``Accept`` header asks for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

LISTEN_HOST = "127.0.0.1"
MAX_REQUEST_HEAD = 8192
READ_TIMEOUT_S = 5.0


class MetricsHttpServer:
    def __init__(self, port: int, render: Callable[[str | None], Awaitable[tuple[bytes, str]]]) -> None:
        self.port = port
        self._render = render
        self._server: asyncio.Server | None = None

    @property
    def bound_port(self) -> int:
        """The port actually bound (differs from ``port`` when 0 asked for a free one)."""
        if self._server is None or not self._server.sockets:
            return self.port
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LISTEN_HOST, self.port, limit=MAX_REQUEST_HEAD)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, _, rest = request_line.partition(" ")
            target = rest.split(" ", 1)[0]
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
            if method not in ("GET", "HEAD"):
                await _reply(writer, 405, "text/plain", b"method not allowed\n")
            elif target.split("?", 1)[0] not in ("/metrics", "/"):
                await _reply(writer, 404, "text/plain", b"not found: try /metrics\n")
            else:
                body, content_type = await self._render(headers.get("accept"))
                await _reply(writer, 200, content_type, b"" if method == "HEAD" else body, len(body))
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a client that never sent a full request head, or went away
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}


async def _reply(
    writer: asyncio.StreamWriter, status: int, content_type: str, body: bytes, length: int | None = None
) -> None:
    head = (
        f"HTTP/1.0 {status} {_REASONS[status]}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
