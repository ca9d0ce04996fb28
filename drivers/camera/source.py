"""Opening a camera source: OpenCV's FFMPEG backend for streams and files, V4L2 for local devices.

Every open goes through ``open_source``, for the daemon's capture thread and the CLI alike: it routes
OpenCV's and FFmpeg's output into the structured log first, and turns a failed open into an
``OpenFailure`` that says why (``open_cause``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

import cv2

from drivers.camera import ffmpeg_log, native_stderr
from drivers.camera.config import CameraConfig
from drivers.camera.open_cause import OpenFailure, classify

_FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


class VideoSource(Protocol):
    """The part of ``cv2.VideoCapture`` the camera uses (a fake stands in for it in unit tests)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


Opener = Callable[[CameraConfig], VideoSource]


def open_video_source(config: CameraConfig) -> VideoSource:
    """Open ``config.source`` with FFMPEG (streams, files) or V4L2 (devices), with I/O timeouts."""
    timeout_ms = int(config.stall_timeout_s * 1000)
    if config.source_kind == "device":
        device = config.source if isinstance(config.source, int) else int(str(config.source)[len("/dev/video"):])
        cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, config.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, config.height)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return cast(VideoSource, cap)
    if config.source_kind == "rtsp":
        # RTP over the RTSP TCP connection: survives NAT and lossy uplinks where UDP drops frames.
        # The variable is process-wide and read at open; an operator's own setting wins.
        os.environ.setdefault(_FFMPEG_OPTIONS_ENV, "rtsp_transport;tcp")
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    return cast(VideoSource, cv2.VideoCapture(str(config.source), cv2.CAP_FFMPEG, params))


def open_source(config: CameraConfig, opener: Opener = open_video_source) -> VideoSource | OpenFailure:
    """An opened source, or why it did not open (a source that did not open is already released)."""
    native_stderr.capture()
    ffmpeg_log.install()
    started = time.monotonic()
    with ffmpeg_log.collecting() as messages:
        source = opener(config)
        opened = source.isOpened()
    if opened:
        return source
    source.release()
    return classify(config, messages, time.monotonic() - started, config.stall_timeout_s)
