"""FFmpeg's log lines through the structured logger, attributed to the camera whose thread wrote them.

OpenCV leaves FFmpeg on its default log callback: raw lines on stderr, and errors only (an HTTP 401 or
404 is a warning there, so it is never printed). ``install()`` hooks a callback into the libavutil that
OpenCV loaded. FFmpeg calls it in the thread that called FFmpeg, which is the camera's capture thread,
so every warning or error becomes one ``event=ffmpeg_log camera=...`` line (rate-limited per camera and
message), and while that thread opens its source the messages are also collected, so the open failure
can be classified (``open_cause``). Everything below warning level is dropped in the callback.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent.logs import RateLimiter, log_event, log_limited
from agent.redact import redact_url

logger = logging.getLogger(__name__)

AV_LOG_ERROR = 16
AV_LOG_WARNING = 24
_LINE_BYTES = 1024
_PREFIX = re.compile(r"^\[(?P<component>[^\]@]+?) @ 0x[0-9a-fA-F]+\]\s*")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
# Warnings FFmpeg prints on every healthy open: kept, but at debug level.
_ROUTINE = (b"deprecated pixel format used",)
_Callback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


@dataclass(frozen=True, slots=True)
class FfmpegMessage:
    level: int  # FFmpeg's: 16 error, 24 warning (lower is worse)
    component: str  # the FFmpeg context that spoke: "http", "tcp", "rtsp", "mjpeg"...
    text: str  # one line, credentials masked


class _ThreadState(threading.local):
    camera: str | None = None
    collected: list[FfmpegMessage] | None = None


_thread = _ThreadState()
_limiter = RateLimiter(60.0)
_install_lock = threading.Lock()
_hook: tuple[ctypes.CDLL, object] | None = None  # the library and the ctypes trampoline in use
_trampolines: list[object] = []  # never freed: FFmpeg may be inside one while another replaces it


def scrub(text: str) -> str:
    """Every URL in a line of text with its credentials masked (FFmpeg may echo a source URL)."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def parse_line(line: str, level: int) -> FfmpegMessage:
    match = _PREFIX.match(line)
    component = match.group("component").strip() if match else ""
    text = line[match.end():] if match else line
    return FfmpegMessage(level, component, scrub(" ".join(text.split())))


def _libavutil_path() -> str | None:
    """The libavutil mapped into this process (OpenCV's wheel bundles its own under a hashed name)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        if "/libavutil" in path and ".so" in path:
            return path
    return None


def install() -> bool:
    """Route FFmpeg's log through ``_on_log`` (once per process). False when no libavutil is loaded."""
    global _hook
    with _install_lock:
        if _hook is not None:
            return True
        import cv2  # noqa: F401 -- loads OpenCV and the FFmpeg libraries it links

        path = _libavutil_path()
        if path is None:
            log_event(logger, "ffmpeg_log_unavailable", logging.WARNING, reason="no libavutil loaded")
            return False
        lib = ctypes.CDLL(path)
        lib.av_log_format_line2.argtypes = [
            ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p,
            ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int),
        ]
        lib.av_log_set_callback.argtypes = [ctypes.c_void_p]
        callback = _Callback(_on_log)
        _trampolines.append(callback)
        lib.av_log_set_callback(ctypes.cast(callback, ctypes.c_void_p))
        _hook = (lib, callback)
        atexit.register(_uninstall)
        return True


def _uninstall() -> None:
    """Back to FFmpeg's own callback before the interpreter goes: a capture thread may still log."""
    global _hook
    with _install_lock:
        if _hook is None:
            return
        lib, _ = _hook
        lib.av_log_set_callback(ctypes.cast(lib.av_log_default_callback, ctypes.c_void_p))
        _hook = None


def _on_log(context: int | None, level: int, fmt: bytes | None, args: int | None) -> None:
    """Called by FFmpeg in whichever thread logs, for every message at every level."""
    if level > AV_LOG_WARNING or fmt is None or _hook is None:
        return
    lib, _ = _hook
    buffer = ctypes.create_string_buffer(_LINE_BYTES)
    print_prefix = ctypes.c_int(1)
    lib.av_log_format_line2(context, level, fmt, args, buffer, _LINE_BYTES, ctypes.byref(print_prefix))
    message = parse_line(buffer.value.decode("utf-8", "replace").strip(), level)
    if not message.text:
        return
    collected = _thread.collected
    if collected is not None:
        collected.append(message)
    camera = _thread.camera
    severity = logging.ERROR if level <= AV_LOG_ERROR else logging.WARNING
    log_limited(
        _limiter, logger, f"{camera}|{fmt!r}", "ffmpeg_log", logging.DEBUG if fmt.startswith(_ROUTINE) else severity,
        camera=camera or "-", component=message.component or "-", message=message.text,
    )


@contextmanager
def attributed(camera: str) -> Iterator[None]:
    """FFmpeg lines logged by this thread meanwhile name ``camera``."""
    previous, _thread.camera = _thread.camera, camera
    try:
        yield
    finally:
        _thread.camera = previous


@contextmanager
def collecting() -> Iterator[list[FfmpegMessage]]:
    """The warnings and errors FFmpeg logs in this thread meanwhile (an open), in order."""
    previous, messages = _thread.collected, list[FfmpegMessage]()
    _thread.collected = messages
    try:
        yield messages
    finally:
        _thread.collected = previous
