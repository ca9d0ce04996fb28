"""Bus frames as they cross the wire, for ``-v``: the ``edgepost.frames`` logger.

Off unless asked (``edgepost run -v``, or ``-v`` on a technician command: ``enable(True)``). A
transport calls ``log_frame(link, "tx"|"rx", data, unit=...)`` for each frame; while frames are off
that costs one level check. Each link may log ``RATE`` frames a second (bursts up to ``BURST``);
past that frames are only counted, and the next line that gets through carries ``suppressed=N``, so
``-v`` on a busy bus cannot flood the journal or the disk.

A library that dumps its own frames as debug text (pymodbus' ``send: 0x1 0x3 ...``) is turned into the
same event by ``library_frame`` (``agent.log_setup`` routes such records here).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.logs import log_event

FRAMES = logging.getLogger("edgepost.frames")
RATE = 20.0  # frames per second per link
BURST = 40.0
_OFF = logging.CRITICAL + 1


class FrameBudget:
    """A token bucket per key: ``take`` is None when over budget, else the frames suppressed before."""

    def __init__(self, rate: float = RATE, burst: float = BURST, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()  # a transport may log from its own thread
        self._tokens: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._suppressed: dict[str, int] = {}

    def take(self, key: str) -> int | None:
        with self._lock:
            now = self._clock()
            tokens, at = self._tokens.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._tokens[key] = (tokens, now)
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return None
            self._tokens[key] = (tokens - 1.0, now)
            return self._suppressed.pop(key, 0)


_budget = FrameBudget()


def enable(on: bool) -> None:
    FRAMES.setLevel(logging.DEBUG if on else _OFF)


def enabled() -> bool:
    return FRAMES.isEnabledFor(logging.DEBUG)


def hex_bytes(data: bytes) -> str:
    return data.hex(" ")


def log_frame(link: str, direction: str, data: bytes, **fields: Any) -> None:
    """One frame (``direction`` "tx" or "rx") on ``link`` (a bus name), when frames are on."""
    if not FRAMES.isEnabledFor(logging.DEBUG):
        return
    suppressed = _budget.take(link)
    if suppressed is None:
        return
    if suppressed:
        fields["suppressed"] = suppressed
    log_event(FRAMES, "frame", logging.DEBUG, link=link, dir=direction, len=len(data), hex=hex_bytes(data), **fields)


# pymodbus (transport_dump): "send: 0x1 0x3", "recv: 0x1 0x3 extra data: 0x1", "extra: unexpected data: 0x1"
_LIBRARY_DUMP = re.compile(r"^(?P<kind>send|recv|extra): (?P<data>(?:0x[0-9a-f]{1,2} ?)*)(?:\s*(?:extra|unexpected) "
                           r"data: (?P<pending>(?:0x[0-9a-f]{1,2} ?)*))?\s*$")
_DIRECTION = {"send": "tx", "recv": "rx", "extra": "rx-pending"}


def _hex_tokens(text: str | None) -> bytes:
    return bytes(int(token, 16) for token in (text or "").split())


def library_frame(source: str, message: str) -> tuple[str, dict[str, Any]] | None:
    """A library's frame dump line as a ``frame`` event's fields, or None when it is not one."""
    match = _LIBRARY_DUMP.match(message)
    if match is None:
        return None
    data = _hex_tokens(match.group("data"))
    fields: dict[str, Any] = {"link": source, "dir": _DIRECTION[match.group("kind")], "len": len(data),
                              "hex": hex_bytes(data)}
    pending = _hex_tokens(match.group("pending"))
    if pending:
        fields["pending"] = hex_bytes(pending)
    return "frame", fields


def take_budget(link: str) -> int | None:
    return _budget.take(link)
