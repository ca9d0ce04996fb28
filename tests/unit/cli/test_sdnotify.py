"""sd_notify datagrams against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sdnotify import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    yield str(path), sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_watchdog_status_stopping(notify_socket: tuple[str, socket.socket]) -> None:
    address, sock = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.ready("buses and outbox up")
    assert received(sock) == ["READY=1", "STATUS=buses and outbox up"]
    assert notifier.watchdog()
    assert received(sock) == ["WATCHDOG=1"]
    assert notifier.status("draining\n42 records")
    assert received(sock) == ["STATUS=draining 42 records"]
    assert notifier.stopping()
    assert received(sock) == ["STOPPING=1"]
    notifier.reloading()
    lines = received(sock)
    assert lines[0] == "RELOADING=1"
    assert lines[1].startswith("MONOTONIC_USEC=") and int(lines[1].split("=")[1]) > 0
    notifier.close()


def test_abstract_namespace_socket() -> None:
    name = f"edgepost-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert received(sock) == ["READY=1"]
    finally:
        sock.close()


def test_no_notify_socket_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.watchdog_interval() is None


def test_send_failure_does_not_raise(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.watchdog() is False


def test_watchdog_interval_from_environment() -> None:
    mine = str(os.getpid())
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": mine}).watchdog_interval() == 30.0
    assert Notifier({"WATCHDOG_USEC": "5000000"}).watchdog_interval() == 5.0
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_interval() is None
    assert Notifier({"WATCHDOG_USEC": "0"}).watchdog_interval() is None
    assert Notifier({"WATCHDOG_USEC": "garbage"}).watchdog_interval() is None


def test_a_receiver_that_stops_reading_never_blocks_the_sender(notify_socket: tuple[str, socket.socket]) -> None:
    address, _ = notify_socket  # bound, never read again: its queue fills up
    notifier = Notifier({"NOTIFY_SOCKET": address})
    results = [notifier.watchdog() for _ in range(5000)]
    assert results[0] is True
    assert results[-1] is False  # queue full: dropped, not blocked
