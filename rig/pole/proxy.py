"""A userspace TCP proxy between the agent and the broker: the rig's link faults.

Modes (switch any time with ``set_mode``):

- ``pass``: bytes flow both ways;
- ``stall``: connections stay open, bytes are held and delivered when the stall ends;
- ``blackhole``: nothing gets through, and when it ends the connections open meanwhile are cut
  (TCP under a dead radio link times out; it never delivers a torn stream);
- ``throttle``: at most ``bytes_per_s`` each way plus ``latency_ms`` per chunk (2G/NB-IoT);
- ``refuse``: existing connections are cut and new ones closed at once.

It also records the first byte of every upstream connection, so a TLS scenario can prove the agent
never sent plaintext (a TLS ClientHello starts with 0x16).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal, Self

from rig.errors import PoleError

Mode = Literal["pass", "stall", "blackhole", "throttle", "refuse"]
_CHUNK = 4096
_SLICE = 128  # a throttled link sends this much at a time


@dataclass
class ProxyStats:
    connections: int = 0
    upstream_bytes: int = 0
    downstream_bytes: int = 0
    first_bytes: list[int] = field(default_factory=list)  # first byte the agent sent, per connection


class LinkProxy:
    """``async with LinkProxy(target_port) as proxy``: listen on ``proxy.port``, forward to the target."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.mode: Mode = "pass"
        self.bytes_per_s = 0.0
        self.latency_s = 0.0
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._connections: set[asyncio.Task[None]] = set()
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    async def __aenter__(self) -> Self:
        try:
            self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        except OSError as exc:
            raise PoleError(f"link proxy cannot listen: {exc}") from None
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut_all()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def set_mode(self, mode: Mode, bytes_per_s: float = 0.0, latency_ms: float = 0.0) -> None:
        leaving_blackhole = self.mode == "blackhole" and mode != "blackhole"
        self.mode = mode
        self.bytes_per_s = bytes_per_s
        self.latency_s = latency_ms / 1000.0
        if mode in ("stall", "blackhole"):
            self._flowing.clear()
        if mode == "refuse" or leaving_blackhole:
            await self._cut_all()
        if mode not in ("stall", "blackhole"):
            self._flowing.set()

    async def _cut_all(self) -> None:
        """Abort both sides of every open connection (an RST, as a dead link ends) and let them finish."""
        for writers in list(self._links):
            for writer in writers:
                writer.transport.abort()
        tasks = list(self._connections)
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    def _refusing(self) -> bool:
        return self.mode == "refuse"

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing():
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.stats.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            self._connections.discard(task)
            writer.close()
            return
        link = (writer, up_writer)
        self._links.add(link)
        if self._refusing():  # refused while this connection was still being set up
            for w in link:
                w.transport.abort()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pump(reader, up_writer, upstream=True))
                group.create_task(self._pump(up_reader, writer, upstream=False))
        except* (ConnectionError, OSError):
            pass  # one side hung up (or the rig cut the link): the other is closed below
        finally:
            self._links.discard(link)
            self._connections.discard(task)
            for w in link:
                w.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: bool) -> None:
        first = upstream
        while chunk := await reader.read(_CHUNK):
            if first:
                self.stats.first_bytes.append(chunk[0])
                first = False
            await self._flowing.wait()
            if self.mode == "throttle":
                await self._throttled_write(writer, chunk)
            else:
                writer.write(chunk)
                await writer.drain()
            if upstream:
                self.stats.upstream_bytes += len(chunk)
            else:
                self.stats.downstream_bytes += len(chunk)
        raise ConnectionResetError("peer closed")

    async def _throttled_write(self, writer: asyncio.StreamWriter, chunk: bytes) -> None:
        """One latency per chunk, then small slices spaced at the link's bandwidth."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        for start in range(0, len(chunk), _SLICE):
            piece = chunk[start : start + _SLICE]
            if self.bytes_per_s > 0:
                await asyncio.sleep(len(piece) / self.bytes_per_s)
            writer.write(piece)
            await writer.drain()
