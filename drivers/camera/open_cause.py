"""Why a camera source did not open, as a short typed cause read from what FFmpeg reported.

The cause travels in the ``camera_state`` event (``cause``, ``cause_detail``), in ``edgepost status``
and in the CLI's error, so an operator can tell a wrong password from a dead camera without a shell on
the box. ``cause_detail`` is FFmpeg's own line, with any credentials in it masked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from drivers.camera.config import CameraConfig
from drivers.camera.ffmpeg_log import AV_LOG_ERROR, FfmpegMessage


class OpenCause(StrEnum):
    UNAUTHORIZED = "unauthorized"  # 401: credentials missing or wrong
    FORBIDDEN = "forbidden"  # 403
    NOT_FOUND = "not_found"  # 404, an RTSP path the camera does not serve, a missing file or device
    REJECTED = "rejected"  # another 4xx answer
    SERVER_ERROR = "server_error"  # 5xx
    REFUSED = "refused"  # nothing listens on that port
    TIMEOUT = "timeout"  # no answer within stall_timeout_s
    HOST_NOT_FOUND = "host_not_found"  # the name does not resolve
    UNREACHABLE = "unreachable"  # no route to the host
    INVALID_DATA = "invalid_data"  # it answered, but with nothing FFmpeg can demux
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class OpenFailure:
    cause: OpenCause
    detail: str

    def describe(self) -> str:
        return f"{self.cause} ({self.detail})" if self.detail else str(self.cause)


_STATUS = re.compile(r"(?:HTTP error|method \w+ failed:|server returned)\s*(\d{3})", re.IGNORECASE)
_BY_TEXT: tuple[tuple[re.Pattern[str], OpenCause], ...] = (
    (re.compile(r"connection refused", re.I), OpenCause.REFUSED),
    (re.compile(r"immediate exit requested|timed out", re.I), OpenCause.TIMEOUT),
    (re.compile(r"resolve hostname|name or service not known|name resolution", re.I), OpenCause.HOST_NOT_FOUND),
    (re.compile(r"no route to host|network is unreachable|host is unreachable", re.I), OpenCause.UNREACHABLE),
    (re.compile(r"no such file or directory", re.I), OpenCause.NOT_FOUND),
    (re.compile(r"invalid data found", re.I), OpenCause.INVALID_DATA),
)
_INTERRUPTED = "immediate exit requested"  # FFmpeg's words when OpenCV's timeout interrupts it
_TIMEOUT_SHARE = 0.9  # an open that failed after this share of its timeout ran into it


def _by_status(code: int) -> OpenCause:
    if code == 401:
        return OpenCause.UNAUTHORIZED
    if code == 403:
        return OpenCause.FORBIDDEN
    if code == 404:
        return OpenCause.NOT_FOUND
    if code >= 500:
        return OpenCause.SERVER_ERROR
    return OpenCause.REJECTED


def _from_message(message: FfmpegMessage) -> OpenCause | None:
    status = _STATUS.search(message.text)
    if status is not None and 400 <= int(status.group(1)) < 600:
        return _by_status(int(status.group(1)))
    for pattern, cause in _BY_TEXT:
        if pattern.search(message.text):
            return cause
    return None


def _local_path(config: CameraConfig) -> Path | None:
    if config.source_kind == "device":
        return Path(config.source if isinstance(config.source, str) else f"/dev/video{config.source}")
    if config.source_kind == "file":
        return Path(str(config.source))
    return None


def classify(
    config: CameraConfig, messages: Sequence[FfmpegMessage], elapsed_s: float, timeout_s: float
) -> OpenFailure:
    """The cause of a failed open of ``config.source`` from FFmpeg's ``messages`` during it."""
    path = _local_path(config)
    if path is not None and not path.exists():
        return OpenFailure(OpenCause.NOT_FOUND, f"no such {'device' if config.source_kind == 'device' else 'file'}")
    for message in messages:  # the first message that names a cause is the root one
        cause = _from_message(message)
        if cause is OpenCause.TIMEOUT and _INTERRUPTED in message.text.lower():
            return OpenFailure(cause, f"no answer within {timeout_s:g} s ({message.text})")  # OpenCV's timeout
        if cause is not None:
            return OpenFailure(cause, message.text)
    if elapsed_s >= timeout_s * _TIMEOUT_SHARE:
        return OpenFailure(OpenCause.TIMEOUT, f"no answer within {timeout_s:g} s")
    errors = [m.text for m in messages if m.level <= AV_LOG_ERROR]
    return OpenFailure(OpenCause.UNKNOWN, errors[0] if errors else "the source could not be opened")
