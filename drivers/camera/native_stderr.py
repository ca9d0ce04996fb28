"""What native code writes on stderr (OpenCV's own ``[ WARN:0@1.2] ...`` lines) as structured log lines.

C code writes to file descriptor 2 directly, past Python's logging. ``capture()`` (called before the
first camera opens) moves the log handlers and ``sys.stderr`` to a duplicate of the process's stderr,
points fd 2 at a pipe, and a reader thread turns every line it gets into ``event=opencv_log`` (OpenCV's
format, parsed) or ``event=native_stderr``, rate-limited per source line. At exit fd 2 is given back
and the pipe drained.

It acts only where the process logs to its own fd 2 (``agent.logs.setup_logging`` in the daemon and
the CLI); under a test runner that captures stderr it does nothing. Known cost: a message a native
library prints just before it aborts the process may be lost with the reader thread.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import re
import sys
import threading
from typing import IO

from agent.logs import RateLimiter, log_limited

logger = logging.getLogger(__name__)

_OPENCV = re.compile(
    r"^\[\s*(?P<level>[A-Z]+):\d+@[\d.]+\]\s+(?:global\s+)?(?P<where>\S+:\d+)\s+(?P<func>\S+)\s+(?P<message>.*)$"
)
_LEVELS = {"FATAL": logging.CRITICAL, "ERROR": logging.ERROR, "WARN": logging.WARNING, "INFO": logging.INFO}
# OpenCV warnings that only restate a failed open or a stall the camera reports with its cause: info level.
_ROUTINE = ("VIDEOIO(FFMPEG): backend is generally available but can't be used to capture by name",
            "Stream timeout triggered")
_DIGITS = re.compile(r"\d+")
_lock = threading.Lock()
_installed: tuple[int, threading.Thread] | None = None  # (saved real stderr fd, reader)
_limiter = RateLimiter(60.0)


def _writes_fd2(stream: object) -> bool:
    fileno = getattr(stream, "fileno", None)
    if fileno is None:
        return False
    try:
        return bool(fileno() == 2)
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def _fd2_handlers() -> list[logging.StreamHandler[IO[str]]]:
    return [
        h for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and _writes_fd2(h.stream)
    ]


def capture() -> bool:
    """Route fd 2 through the structured logger (once). False where the process does not log to fd 2."""
    global _installed
    with _lock:
        if _installed is not None:
            return True
        handlers = _fd2_handlers()
        if not handlers:
            return False
        saved = os.dup(2)
        real = open(saved, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        for handler in handlers:
            handler.setStream(real)
        if _writes_fd2(sys.stderr):
            sys.stderr.flush()
            sys.stderr = real
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        reader = threading.Thread(target=_read, args=(read_end,), name="native-stderr", daemon=True)
        reader.start()
        _installed = (saved, reader)
        atexit.register(_release)
        return True


def _release() -> None:
    """Give fd 2 back (the pipe's only write end closes) and let the reader drain what is left."""
    global _installed
    with _lock:
        if _installed is None:
            return
        saved, reader = _installed
        _installed = None
        os.dup2(saved, 2)
    reader.join(2.0)


def _read(fd: int) -> None:
    with os.fdopen(fd, "rb") as pipe:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip()
            if line.strip():
                log_line(line)


def log_line(line: str) -> None:
    """One line a native library wrote on stderr, as a structured event."""
    match = _OPENCV.match(line)
    if match is None:
        log_limited(_limiter, logger, _DIGITS.sub("#", line), "native_stderr", logging.WARNING, line=line)
        return
    level = _LEVELS.get(match.group("level"), logging.DEBUG)
    if level == logging.WARNING and match.group("message").startswith(_ROUTINE):
        level = logging.INFO
    log_limited(
        _limiter, logger, match.group("where"), "opencv_log", level,
        where=match.group("where"), function=match.group("func"), message=match.group("message"),
    )
