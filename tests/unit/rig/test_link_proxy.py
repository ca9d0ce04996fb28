"""The link proxy on loopback: pass, stall (held then delivered), blackhole (cut), throttle, refuse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from rig.pole.proxy import LinkProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[LinkProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, LinkProxy(port) as link:
        yield link


async def _connect(link: LinkProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", link.port)


async def test_pass_forwards_both_ways(proxy: LinkProxy) -> None:
    reader, writer = await _connect(proxy)
    writer.write(b"\x10hello")
    assert await asyncio.wait_for(reader.readexactly(6), 5) == b"\x10hello"
    assert proxy.stats.first_bytes == [0x10]
    writer.close()


async def test_stall_holds_bytes_then_delivers_them(proxy: LinkProxy) -> None:
    reader, writer = await _connect(proxy)
    await proxy.set_mode("stall")
    writer.write(b"held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.3)
    await proxy.set_mode("pass")
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"held"
    writer.close()


async def test_blackhole_cuts_the_connections_when_it_ends(proxy: LinkProxy) -> None:
    reader, writer = await _connect(proxy)
    await proxy.set_mode("blackhole")
    writer.write(b"lost")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.3)
    await proxy.set_mode("pass")
    assert await asyncio.wait_for(reader.read(100), 5) == b""  # cut, never a torn stream
    reader2, writer2 = await _connect(proxy)  # a new connection works again
    writer2.write(b"ok")
    assert await asyncio.wait_for(reader2.readexactly(2), 5) == b"ok"
    writer.close()
    writer2.close()


async def test_throttle_spaces_bytes_at_the_bandwidth(proxy: LinkProxy) -> None:
    reader, writer = await _connect(proxy)
    await proxy.set_mode("throttle", bytes_per_s=2000, latency_ms=0)
    started = time.monotonic()
    writer.write(b"x" * 400)  # 400 B at 2000 B/s each way (pipelined): never sooner than 0.2 s
    await asyncio.wait_for(reader.readexactly(400), 10)
    assert time.monotonic() - started >= 0.19  # a floor: a loaded machine only makes it later
    writer.close()


async def test_refuse_closes_new_and_existing_connections(proxy: LinkProxy) -> None:
    reader, writer = await _connect(proxy)
    await proxy.set_mode("refuse")
    assert await asyncio.wait_for(reader.read(100), 5) == b""
    reader2, _ = await _connect(proxy)
    assert await asyncio.wait_for(reader2.read(100), 5) == b""
    writer.close()
