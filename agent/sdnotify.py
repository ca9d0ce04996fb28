"""systemd notify protocol (sd_notify(3)): READY, WATCHDOG, STOPPING, RELOADING, STATUS.

A datagram of ``KEY=value`` lines sent to the AF_UNIX socket named by ``NOTIFY_SOCKET``; a leading
``@`` means the abstract namespace. Without ``NOTIFY_SOCKET`` (not started by systemd) every call is a
no-op, so the daemon calls these unconditionally.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

from agent.logs import RateLimiter, log_limited

_log = logging.getLogger(__name__)


class Notifier:
    """Sends state changes to systemd. Sending never raises or blocks: a lost notification must not stall
    or kill the agent (a missed WATCHDOG=1 is exactly what the watchdog is for)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_s = _watchdog_interval(env)
        self._limiter = RateLimiter(60.0)
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self, status: str | None = None) -> bool:
        return self._send("READY=1", status)

    def watchdog(self) -> bool:
        return self._send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self._send("STOPPING=1", status)

    def reloading(self) -> bool:
        # systemd >= 253 wants MONOTONIC_USEC with RELOADING=1 (Type=notify-reload); older ones ignore it.
        return self._send("RELOADING=1", None, f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def status(self, text: str) -> bool:
        return self._send(None, text)

    def watchdog_interval(self) -> float | None:
        """Seconds systemd waits for WATCHDOG=1 before killing us (ping at half of it), or None."""
        return self._watchdog_s

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, state: str | None, status: str | None = None, *extra: str) -> bool:
        if self._address is None:
            return False
        lines = [line for line in (state, *extra) if line]
        if status is not None:
            lines.append("STATUS=" + status.replace("\n", " "))
        payload = "\n".join(lines).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # never block the event loop: a receiver that stopped reading must not stall the agent
                self._sock.setblocking(False)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            log_limited(self._limiter, _log, "sd_notify", "sd_notify_failed", error=str(exc))
            return False
        return True


def _socket_address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # vsock:... and other forms are not used on our boxes


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None  # meant for another process (a parent shell or wrapper)
    return int(usec) / 1_000_000
