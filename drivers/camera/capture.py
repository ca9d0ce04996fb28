"""One capture thread per camera: decode, keep only the newest frame, watch for stalls.

OpenCV's FFMPEG backend reads RTSP, HTTP MJPEG and files; V4L2 reads local devices. The thread
never queues: a frame not taken before the next one arrives is counted as skipped (the camera's loop
did not want it yet: ``detect_fps``) or dropped (the loop wanted it but was busy). When no frame
arrives for ``stall_timeout_s`` the stream is released and reopened with capped exponential
back-off; online/offline changes are reported through ``on_state``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import cv2
import numpy as np
import numpy.typing as npt

from agent.logs import RateLimiter, log_event, log_limited
from drivers.camera import ffmpeg_log
from drivers.camera.config import CameraConfig
from drivers.camera.open_cause import OpenFailure
from drivers.camera.source import Opener, VideoSource, open_source, open_video_source

Image = npt.NDArray[np.uint8]
CameraState = Literal["starting", "online", "offline", "ended"]
StateCallback = Callable[[CameraState, str, OpenFailure | None], None]

logger = logging.getLogger(__name__)
_FALLBACK_FILE_FPS = 25.0


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    image: Image  # BGR at the decode resolution
    ts: float  # wall clock when decoded
    mono: float  # monotonic clock when decoded
    index: int


@dataclass(frozen=True, slots=True)
class FrameCounts:
    """What became of the decoded frames: ``delivered`` = ``taken`` + ``skipped`` + ``dropped`` (+ 1 waiting)."""

    delivered: int  # decoded and put in the slot
    taken: int  # analysed by the camera's loop
    skipped: int  # not wanted: the loop analyses at most one frame per ``interval_s`` (detect_fps)
    dropped: int  # wanted, but the loop was still busy with an earlier frame: lost


class LatestFrameSlot:
    """A slot of size one between the capture thread and the camera's loop, which takes a frame at most
    once per ``interval_s`` (1 / detect_fps).

    A frame overwritten before anyone took it is *skipped* when it arrived before the loop wanted its
    next frame (the cap, by design) and *dropped* when the loop wanted it but was still busy; a dropped
    frame stands for the analysis the loop missed, so the next one is wanted ``interval_s`` after it.
    """

    def __init__(self, interval_s: float = 0.0) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._frame: CapturedFrame | None = None
        self._wanted_from = float("-inf")  # monotonic time from which the loop wants a frame
        self._delivered = self._taken = self._skipped = self._dropped = 0

    def put(self, frame: CapturedFrame) -> None:
        with self._lock:
            self._delivered += 1
            old = self._frame
            if old is not None:
                if old.mono < self._wanted_from:
                    self._skipped += 1
                else:
                    self._dropped += 1
                    self._wanted_from = old.mono + self.interval_s
            self._frame = frame

    def take(self) -> CapturedFrame | None:
        """The newest frame, if any; the loop's next one is then wanted ``interval_s`` after it was decoded."""
        with self._lock:
            frame, self._frame = self._frame, None
            if frame is not None:
                self._taken += 1
                self._wanted_from = frame.mono + self.interval_s
            return frame

    def counts(self) -> FrameCounts:
        with self._lock:
            return FrameCounts(self._delivered, self._taken, self._skipped, self._dropped)


class CaptureThread:
    def __init__(
        self,
        config: CameraConfig,
        on_state: StateCallback,
        on_frame: Callable[[], None] | None = None,
        opener: Opener = open_video_source,
    ) -> None:
        self.config = config
        self.slot = LatestFrameSlot(1.0 / config.detect_fps)
        self.state: CameraState = "starting"
        self.failure: OpenFailure | None = None  # why the last open failed, while that is the state
        self.frames = 0
        self.reopens = 0
        self.fps = 0.0
        self.last_frame_mono: float | None = None
        self.latest: CapturedFrame | None = None  # newest decoded frame, kept for on-demand snapshots
        self._on_state = on_state
        self._on_frame = on_frame
        self._opener = opener
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera[{config.name}].capture", daemon=True)
        self._limiter = RateLimiter(60.0)
        self._fps_window = (time.monotonic(), 0)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Blocking. An open or read may hold the thread up to ``stall_timeout_s`` (the FFMPEG
        I/O timeouts), so that long and a second is waited by default."""
        self._stop.set()
        if not self._thread.is_alive():
            return
        wait_s = self.config.stall_timeout_s + 1.0 if timeout is None else timeout
        self._thread.join(wait_s)
        if self._thread.is_alive():
            log_event(logger, "camera_capture_stuck", logging.WARNING, camera=self.config.name, waited_s=wait_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def died(self) -> bool:
        """The thread ended although nobody stopped it and the source did not end: a bug or an
        exception the thread does not handle; only a restart of the camera brings it back."""
        started = self._thread.ident is not None
        return started and not self._thread.is_alive() and not self._stop.is_set() and self.state != "ended"

    def _set_state(self, state: CameraState, reason: str, failure: OpenFailure | None = None) -> None:
        """Report a change of state, or of the cause of an open failure (a stalled camera that then
        refuses connections says so)."""
        same_cause = failure is None or (self.failure is not None and self.failure.cause == failure.cause)
        if state == self.state and same_cause:
            return
        self.state, self.failure = state, failure
        cause: dict[str, object] = {}
        if failure is not None:
            cause = {"cause": str(failure.cause), "cause_detail": failure.detail}
        log_event(logger, "camera_state", logging.INFO, camera=self.config.name, state=state, reason=reason, **cause)
        self._on_state(state, reason, failure)

    def _run(self) -> None:
        with ffmpeg_log.attributed(self.config.name):
            self._reopen_forever()

    def _reopen_forever(self) -> None:
        backoff = self.config.reopen_backoff_s
        while not self._stop.is_set():
            try:
                outcome, got_frames = self._open_and_read()
            except cv2.error as exc:  # OpenCV raises it from open, read or resize on a broken stream
                error = " ".join(str(exc).split())
                log_limited(self._limiter, logger, "cv2", "camera_capture_error", camera=self.config.name, error=error)
                self._set_state("offline", "capture error")
                outcome, got_frames = "failed", False
            if got_frames:
                backoff = self.config.reopen_backoff_s
            if outcome == "stopped":
                return
            if outcome == "eof":
                if self.config.loop and got_frames:
                    continue  # replay the file from its start, no back-off
                self._set_state("ended", "end of file")
                return
            if self._stop.wait(backoff):
                return
            self.reopens += 1
            backoff = min(backoff * 2.0, self.config.reopen_backoff_max_s)

    def _open_and_read(self) -> tuple[Literal["stopped", "eof", "stall", "failed"], bool]:
        """One open of the source, read until it stalls or ends; the source is always released."""
        source = open_source(self.config, self._opener)
        if isinstance(source, OpenFailure):
            log_limited(
                self._limiter, logger, f"open:{source.cause}", "camera_open_failed",
                camera=self.config.name, cause=str(source.cause), detail=source.detail,
            )
            self._set_state("offline", "open failed", source)
            return "failed", False
        try:
            return self._read_until_stall(source)
        finally:
            source.release()

    def _read_until_stall(self, source: VideoSource) -> tuple[Literal["stopped", "eof", "stall"], bool]:
        is_file = self.config.source_kind == "file"
        period = 0.0
        if is_file:
            native = source.get(cv2.CAP_PROP_FPS)
            period = 1.0 / (native if native and native > 0 else _FALLBACK_FILE_FPS)
        started = last_frame = time.monotonic()
        got_frames = 0
        while not self._stop.is_set():
            ok, image = source.read()
            now = time.monotonic()
            if ok and image is not None:
                last_frame = now
                got_frames += 1
                self._deliver(image, now)
                if is_file and self._stop.wait(max(0.0, started + got_frames * period - time.monotonic())):
                    return "stopped", True
                continue
            if is_file:
                return "eof", got_frames > 0
            if now - last_frame >= self.config.stall_timeout_s:
                self._set_state("offline", "stalled" if got_frames else "no frames")
                return "stall", got_frames > 0
            self._stop.wait(0.05)  # a failed read that is not yet a stall: do not spin
        return "stopped", got_frames > 0

    def _deliver(self, image: Image, now: float) -> None:
        height, width = image.shape[:2]
        if (width, height) != (self.config.width, self.config.height):
            image = cast(
                Image, cv2.resize(image, (self.config.width, self.config.height), interpolation=cv2.INTER_AREA)
            )
        self.frames += 1
        self.last_frame_mono = now
        frame = CapturedFrame(image, time.time(), now, self.frames)
        self.latest = frame
        self.slot.put(frame)
        self._measure_fps(now)
        self._set_state("online", "frames arriving")
        if self._on_frame is not None:
            self._on_frame()

    def _measure_fps(self, now: float) -> None:
        window_start, count = self._fps_window
        count += 1
        if now - window_start >= 1.0:
            self.fps = count / (now - window_start)
            self._fps_window = (now, 0)
        else:
            self._fps_window = (window_start, count)
