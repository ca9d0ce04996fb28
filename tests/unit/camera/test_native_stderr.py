"""Native stderr lines become structured events; under a runner that captures stderr nothing is redirected."""

from __future__ import annotations

import io
import logging

import pytest

from drivers.camera import native_stderr


def test_opencv_line_is_parsed_and_other_lines_are_kept_whole(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG", logger="drivers.camera.native_stderr"):
        native_stderr.log_line(
            "[ WARN:0@2.110] global cap_ffmpeg_impl.hpp:453 _opencv_ffmpeg_interrupt_callback "
            "Stream timeout triggered after 2011.387814 ms"
        )
        native_stderr.log_line("[ERROR:3@10.5] global cap.cpp:99 open something broke")
        native_stderr.log_line("terminate called after throwing an instance of 'x'")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [  # a stall is reported by the camera
        ("INFO", 'event=opencv_log where=cap_ffmpeg_impl.hpp:453 function=_opencv_ffmpeg_interrupt_callback '
                    'message="Stream timeout triggered after 2011.387814 ms"'),
        ("ERROR", "event=opencv_log where=cap.cpp:99 function=open message=\"something broke\""),
        ("WARNING", "event=native_stderr line=\"terminate called after throwing an instance of 'x'\""),
    ]


def test_not_installed_where_logging_does_not_go_to_fd_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.StreamHandler(io.StringIO())])
    assert native_stderr.capture() is False
