"""One camera's loop: newest frame -> motion gate -> model -> analytics -> records.

The capture thread decodes; this coroutine takes at most ``detect_fps`` frames a second, runs
the motion check in a thread and the model through the shared inference runtime (both off the
event loop), and hands events, snapshots and periodic count readings to the sink.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from agent.errors import DeviceError, DeviceTimeout
from agent.logs import RateLimiter, log_limited
from agent.records import Event, JsonValue, Priority
from agent.redact import redact_url
from drivers.base import RecordSink
from drivers.camera.analytics.detection import DetectionLike
from drivers.camera.analytics.engine import CameraAnalytics
from drivers.camera.analytics.events import camera_event
from drivers.camera.capture import CameraState, CapturedFrame, CaptureThread, FrameCounts, Image
from drivers.camera.config import CameraConfig
from drivers.camera.inference.errors import InferenceFailed, PoolClosed
from drivers.camera.motion import MotionDetector
from drivers.camera.open_cause import OpenFailure
from drivers.camera.snapshot import make_snapshot, still_jpeg
from drivers.camera.source import Opener, open_video_source

logger = logging.getLogger(__name__)
_IDLE_TICK_S = 1.0  # without frames, still emit (not good) aggregates this often
redact_source = redact_url  # the name drivers/camera/driver.py imports; one implementation in agent.redact


class Detector(Protocol):
    """A loaded model (the inference runtime's pooled model satisfies this)."""

    async def detect(self, frame_bgr: Image) -> Sequence[DetectionLike]: ...


class CameraWorker:
    def __init__(
        self,
        config: CameraConfig,
        detector: Detector | None,
        opener: Opener = open_video_source,
        on_state_change: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.detector = detector
        self.analytics = CameraAnalytics(config)
        self.motion = MotionDetector(config.motion, config.width, config.height) if config.motion.enabled else None
        self.inferences = 0
        self.motion_skipped = 0
        self.inference_errors = 0
        self._limiter = RateLimiter(60.0)
        self.events = 0
        self.last_latency_ms: float | None = None
        self._opener = opener
        self._on_state_change = on_state_change  # the birth lists this camera's state: it is published again
        self._reported_state: str | None = None
        self._pending: asyncio.Queue[Event] = asyncio.Queue()
        self._frame_ready = asyncio.Event()
        self._last_infer_mono = float("-inf")
        self._detected: tuple[int, Sequence[DetectionLike]] = (-1, ())  # (frame index, its detections)
        self.capture: CaptureThread | None = None

    def start(self) -> None:
        """Start decoding. Must be called from the event loop that will run ``run``."""
        loop = asyncio.get_running_loop()

        def on_state(state: CameraState, reason: str, failure: OpenFailure | None) -> None:
            loop.call_soon_threadsafe(self._state_changed, state, reason, failure)

        def on_frame() -> None:
            loop.call_soon_threadsafe(self._frame_ready.set)

        self.capture = CaptureThread(self.config, on_state, on_frame, self._opener)
        self.capture.start()

    def stop(self) -> None:
        """Blocking: joins the capture thread (call through a thread from async code)."""
        if self.capture is not None:
            self.capture.stop()

    def _state_changed(self, state: CameraState, reason: str, failure: OpenFailure | None) -> None:
        cause: dict[str, JsonValue] = {}
        if failure is not None:
            cause = {"cause": str(failure.cause), "cause_detail": failure.detail}
        self._pending.put_nowait(
            camera_event(
                self.config.name, "camera_state", time.time(), Priority.EVENT, state=state, reason=reason, **cause
            )
        )
        if state != self._reported_state:  # a new cause of the same offline state is an event, not a new birth
            self._reported_state = state
            if self._on_state_change is not None:
                self._on_state_change()

    async def run(self, sink: RecordSink) -> None:
        interval = 1.0 / self.config.detect_fps
        next_slot = 0.0
        while True:
            await self._flush_pending(sink)
            delay = next_slot - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            frame = await self._next_frame()
            await self._flush_pending(sink)
            if frame is None:  # no frame is no evidence: tracks and dwell timers stand still (scene time)
                self._check_capture()
                await self._emit_aggregates(sink, time.time(), time.monotonic())
                continue
            next_slot = frame.mono + interval
            await self._process(frame, sink)

    def _check_capture(self) -> None:
        """A capture thread that died would leave the camera idle and "online" forever: fail the
        driver instead, so the supervisor restarts it with a fresh thread."""
        if self.capture is not None and self.capture.died:
            raise DeviceError(self.config.name, f"capture thread died (camera {self.capture.state})")

    async def _flush_pending(self, sink: RecordSink) -> None:
        while not self._pending.empty():
            await sink.put(self._pending.get_nowait())

    async def _next_frame(self) -> CapturedFrame | None:
        assert self.capture is not None, "start() first"
        frame = self.capture.slot.take()
        if frame is not None:
            return frame
        self._frame_ready.clear()
        try:
            await asyncio.wait_for(self._frame_ready.wait(), _IDLE_TICK_S)
        except TimeoutError:
            return None
        return self.capture.slot.take()

    def _should_infer(self, moved: bool, mono: float) -> bool:
        if self.detector is None:
            return False
        force = self.config.motion.force_every_s
        return moved or (force is not None and mono - self._last_infer_mono >= force)

    async def _process(self, frame: CapturedFrame, sink: RecordSink) -> None:
        moved = True if self.motion is None else await asyncio.to_thread(self.motion.moved, frame.image)
        if not self._should_infer(moved, frame.mono):
            self.motion_skipped += 1
            await self._emit(sink, self.analytics.expire(frame.ts, frame.mono), frame, ())
            await self._emit_aggregates(sink, frame.ts, frame.mono)
            return
        assert self.detector is not None
        self._last_infer_mono = frame.mono
        try:
            detections = await self.detector.detect(frame.image)
        except (InferenceFailed, PoolClosed) as exc:
            self.inference_errors += 1
            log_limited(
                self._limiter, logger, "infer", "camera_inference_failed", camera=self.config.name, error=str(exc)
            )
            return
        self.inferences += 1
        self._detected = (frame.index, detections)
        events = self.analytics.update(detections, self.config.width, self.config.height, frame.ts, frame.mono)
        await self._emit(sink, events, frame, detections)
        await self._emit_aggregates(sink, frame.ts, frame.mono)

    async def _emit(
        self, sink: RecordSink, events: list[Event], frame: CapturedFrame | None, detections: Sequence[DetectionLike]
    ) -> None:
        for event in events:
            if frame is not None:
                self.last_latency_ms = (time.monotonic() - frame.mono) * 1000.0  # frame decoded -> event out
            await sink.put(event)
            self.events += 1
            if frame is not None and self.config.snapshots.enabled:
                snapshot = await asyncio.to_thread(
                    make_snapshot, frame.image, detections, self.config.snapshots, event
                )
                if snapshot is not None:
                    await sink.put(snapshot)

    async def _emit_aggregates(self, sink: RecordSink, ts: float, mono: float) -> None:
        for reading in self.analytics.aggregates_due(ts, mono):
            await sink.put(reading)

    def snapshot_jpeg(self) -> bytes:
        """Blocking (call in a thread): the newest frame as JPEG, privacy regions filled, and persons/plates
        pixelated when the model ran on that very frame. Raises ``DeviceTimeout`` without a recent frame."""
        capture = self.capture
        frame = capture.latest if capture is not None else None
        name = self.config.name
        if frame is None:
            raise DeviceTimeout(name, f"no frame received yet (camera {self.state})")
        age = time.monotonic() - frame.mono
        if age > self.config.stall_timeout_s:
            raise DeviceTimeout(name, f"no frame for {age:.0f} s (camera {self.state})")
        index, detections = self._detected
        jpeg = still_jpeg(frame.image, detections if index == frame.index else (), self.config.snapshots)
        if jpeg is None:
            raise DeviceError(name, "the frame could not be encoded as JPEG")
        return jpeg

    @property
    def state(self) -> str:
        return self.capture.state if self.capture is not None else "stopped"

    def status(self) -> dict[str, JsonValue]:
        """``frames`` decoded = ``analysed_frames`` + ``skipped_frames`` (not wanted: ``detect_fps``) +
        ``dropped_frames`` (wanted but lost while the loop was busy), + the one waiting if any."""
        capture = self.capture
        failure = capture.failure if capture is not None else None
        counts = capture.slot.counts() if capture is not None else FrameCounts(0, 0, 0, 0)
        return {
            "state": self.state,
            "cause": None if failure is None else str(failure.cause),
            "cause_detail": None if failure is None else failure.detail,
            "source": redact_url(self.config.source),
            "fps": round(capture.fps, 2) if capture else 0.0,
            "frames": counts.delivered,
            "analysed_frames": counts.taken,
            "skipped_frames": counts.skipped,
            "dropped_frames": counts.dropped,
            "reopens": capture.reopens if capture else 0,
            "inferences": self.inferences,
            "motion_skipped": self.motion_skipped,
            "inference_errors": self.inference_errors,
            "events": self.events,
            "model": self.config.inference.model if self.config.inference else None,
            "last_latency_ms": None if self.last_latency_ms is None else round(self.last_latency_ms, 2),
        }
