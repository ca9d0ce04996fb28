"""Capture thread against a scripted fake source: latest-frame slot, resize, stall watchdog, EOF."""

from __future__ import annotations

import threading
import time
from typing import Any

import cv2
import numpy as np
import pytest

from drivers.camera.capture import CapturedFrame, CaptureThread, LatestFrameSlot
from drivers.camera.config import CameraConfig


def frame(index: int, mono: float = 0.0) -> CapturedFrame:
    return CapturedFrame(np.zeros((2, 2, 3), np.uint8), 0.0, mono, index)


def test_slot_keeps_only_newest_and_counts_drops() -> None:
    slot = LatestFrameSlot()
    assert slot.take() is None
    for i in range(1, 5):
        slot.put(frame(i))
    taken = slot.take()
    assert taken is not None and taken.index == 4
    assert slot.counts().dropped == 3 and slot.take() is None
    slot.put(frame(5))
    assert slot.counts().dropped == 3


def test_slot_tells_frames_skipped_by_detect_fps_from_frames_lost() -> None:
    """16 fps decoded, detect_fps 4: the loop wants one frame per 0.25 s; the rest are skipped on purpose.
    Frames are lost (dropped) only when the loop, busy, misses a frame it would have analysed."""
    slot = LatestFrameSlot(interval_s=0.25)
    slot.put(frame(0, 0.0))
    assert slot.take() is not None  # analysed at 0.0: the next one is wanted from 0.25
    for i in range(1, 5):  # 0.0625 .. 0.25 arrive while the loop waits for its next slot
        slot.put(frame(i, i / 16))
    taken = slot.take()
    assert taken is not None and taken.index == 4
    counts = slot.counts()
    assert (counts.skipped, counts.dropped) == (3, 0)
    # now the loop is busy for 0.75 s: frames 5..16 arrive; those at 0.5 and 0.75 were wanted
    for i in range(5, 17):
        slot.put(frame(i, i / 16))
    counts = slot.counts()
    assert counts.dropped == 2, counts  # frames 8 (0.5) and 12 (0.75): analyses the busy loop missed
    assert counts.skipped == 3 + 9
    assert counts.delivered == 17 and counts.taken == 2
    assert counts.delivered == counts.taken + counts.skipped + counts.dropped + 1  # frame 16 waits in the slot


class FakeSource:
    """Yields ``frames`` frames, then fails reads (a dead stream) or ends (a file)."""

    def __init__(self, frames: int, opened: bool = True, size: tuple[int, int] = (64, 48)) -> None:
        self.remaining = frames
        self.opened = opened
        self.size = size
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, Any]:
        if self.remaining <= 0:
            time.sleep(0.01)
            return False, None
        self.remaining -= 1
        w, h = self.size
        return True, np.full((h, w, 3), 200, np.uint8)

    def get(self, prop: int) -> float:
        return 200.0  # fps of a file

    def release(self) -> None:
        self.released = True


class Recorder:
    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.failures: list[object] = []
        self.changed = threading.Condition()

    def __call__(self, state: str, reason: str, failure: object = None) -> None:
        with self.changed:
            self.states.append((state, reason))
            self.failures.append(failure)
            self.changed.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[tuple[str, str]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.states) >= count, timeout), self.states
            return list(self.states)


def config(**over: Any) -> CameraConfig:
    base: dict[str, Any] = {
        "name": "cam",
        "source": "rtsp://127.0.0.1/x",
        "width": 40,
        "height": 32,
        "stall_timeout_s": 0.2,
        "reopen_backoff_s": 0.05,
        "reopen_backoff_max_s": 0.1,
    }
    base.update(over)
    return CameraConfig.model_validate(base)


def test_stream_stall_goes_offline_and_reopens_with_backoff() -> None:
    script = [FakeSource(3), FakeSource(0, opened=False), FakeSource(2)]
    opened: list[FakeSource] = []

    def opener(_: CameraConfig) -> FakeSource:
        source = script.pop(0) if script else FakeSource(0, opened=False)
        opened.append(source)
        return source

    states = Recorder()
    capture = CaptureThread(config(), states, opener=opener)
    capture.start()
    try:
        seen = states.wait(4)
    finally:
        capture.stop()
    assert seen[:4] == [
        ("online", "frames arriving"),
        ("offline", "stalled"),
        ("offline", "open failed"),  # the reopen failing is news too: it carries the cause
        ("online", "frames arriving"),
    ]
    assert capture.frames == 5 and capture.reopens >= 2
    assert all(s.released for s in opened)
    latest = capture.slot.take()
    assert latest is not None and latest.image.shape == (32, 40, 3)  # resized to the decode size
    counts = capture.slot.counts()
    assert counts.skipped + counts.dropped == 4 and counts.delivered == 5  # nobody took frames 1-4
    assert not capture.alive


def test_source_that_never_opens_is_offline() -> None:
    states = Recorder()
    capture = CaptureThread(config(), states, opener=lambda _: FakeSource(0, opened=False))
    capture.start()
    try:
        assert states.wait(1) == [("offline", "open failed")]
    finally:
        capture.stop()


@pytest.mark.parametrize("loop", [False, True])
def test_file_end(loop: bool, tmp_path: Any) -> None:
    states = Recorder()
    opens = 0

    def opener(_: CameraConfig) -> FakeSource:
        nonlocal opens
        opens += 1
        return FakeSource(3 if opens <= 3 else 0)

    capture = CaptureThread(config(source=str(tmp_path / "a.avi"), loop=loop), states, opener=opener)
    capture.start()
    try:
        seen = states.wait(2)
    finally:
        capture.stop()
    assert seen == [("online", "frames arriving"), ("ended", "end of file")]
    assert capture.frames == (9 if loop else 3)  # a looping file is replayed until it yields nothing


class BrokenDecodeSource(FakeSource):
    """Its first read raises ``cv2.error`` like a corrupt stream does inside FFMPEG/resize."""

    def read(self) -> tuple[bool, Any]:
        raise cv2.error("OpenCV(4.x) resize.cpp:4152: error: (-215:Assertion failed) !ssize.empty()")


def test_cv2_error_goes_offline_and_reopens() -> None:
    script: list[Any] = [BrokenDecodeSource(0), cv2.error("open blew up"), FakeSource(2)]
    opened: list[FakeSource] = []

    def opener(_: CameraConfig) -> FakeSource:
        item = script.pop(0) if script else FakeSource(0, opened=False)
        if isinstance(item, Exception):
            raise item
        opened.append(item)
        return item

    states = Recorder()
    capture = CaptureThread(config(), states, opener=opener)
    capture.start()
    try:
        seen = states.wait(2, timeout=5.0)
    finally:
        capture.stop()
    assert seen[:2] == [("offline", "capture error"), ("online", "frames arriving")]
    assert capture.reopens >= 2 and capture.frames == 2
    assert opened[0].released  # released although its read raised
    assert not capture.died  # stopped on purpose


class ExplodingSource(FakeSource):
    def read(self) -> tuple[bool, Any]:
        raise RuntimeError("a bug in the capture path")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_thread_killed_by_an_unexpected_error_reports_died() -> None:
    capture = CaptureThread(config(), Recorder(), opener=lambda _: ExplodingSource(0))
    assert not capture.died  # not started yet
    capture.start()
    capture._thread.join(5.0)
    assert not capture.alive and capture.died


def test_file_end_is_not_a_death(tmp_path: Any) -> None:
    states = Recorder()
    capture = CaptureThread(config(source=str(tmp_path / "a.avi")), states, opener=lambda _: FakeSource(1))
    capture.start()
    states.wait(2)
    capture._thread.join(5.0)
    assert capture.state == "ended" and not capture.died


class BlockedSource(FakeSource):
    """A read that hangs (an RTSP server that stopped sending) until ``release_read`` is set."""

    def __init__(self) -> None:
        super().__init__(0)
        self.reading = threading.Event()
        self.release_read = threading.Event()

    def read(self) -> tuple[bool, Any]:
        self.reading.set()
        self.release_read.wait(10.0)
        return False, None


def test_stop_waits_the_stall_timeout_and_logs_a_stuck_thread(caplog: pytest.LogCaptureFixture) -> None:
    source = BlockedSource()
    capture = CaptureThread(config(stall_timeout_s=12.0), Recorder(), opener=lambda _: source)
    capture.start()
    assert source.reading.wait(5.0)
    waits: list[float | None] = []
    real_join = capture._thread.join
    capture._thread.join = waits.append  # type: ignore[method-assign,assignment]
    with caplog.at_level("WARNING", logger="drivers.camera.capture"):
        capture.stop()
    assert waits == [13.0]  # an open/read may block stall_timeout_s: wait that and a second
    assert [r.getMessage() for r in caplog.records] == ["event=camera_capture_stuck camera=cam waited_s=13.0"]
    source.release_read.set()
    real_join(5.0)
    assert not capture.alive
