"""Classifying a failed open from FFmpeg's messages (the lines are FFmpeg's, as logged on this machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.camera.config import CameraConfig
from drivers.camera.ffmpeg_log import AV_LOG_ERROR, AV_LOG_WARNING, FfmpegMessage, parse_line
from drivers.camera.open_cause import OpenCause, classify


def config(source: str) -> CameraConfig:
    return CameraConfig.model_validate({"name": "cam", "source": source})


@pytest.mark.parametrize(
    ("line", "level", "cause"),
    [
        ("[http @ 0x556300812480] HTTP error 401 Unauthorized", AV_LOG_WARNING, OpenCause.UNAUTHORIZED),
        ("[http @ 0x556300516740] HTTP error 404 Not Found", AV_LOG_WARNING, OpenCause.NOT_FOUND),
        ("[http @ 0x556300516740] HTTP error 403 Forbidden", AV_LOG_WARNING, OpenCause.FORBIDDEN),
        ("[http @ 0x556300516740] HTTP error 503 Service Unavailable", AV_LOG_WARNING, OpenCause.SERVER_ERROR),
        ("[rtsp @ 0x5573c32d5700] method DESCRIBE failed: 404 (Not Found)", AV_LOG_ERROR, OpenCause.NOT_FOUND),
        ("[rtsp @ 0x5573c32d5700] method DESCRIBE failed: 401 Unauthorized", AV_LOG_ERROR, OpenCause.UNAUTHORIZED),
        ("[tcp @ 0x55630070c100] Connection to tcp://127.0.0.1:58591 failed: Connection refused", AV_LOG_ERROR,
         OpenCause.REFUSED),
        ("[http @ 0x55630068d880] Error reading HTTP response: Immediate exit requested", AV_LOG_ERROR,
         OpenCause.TIMEOUT),
        ("[tcp @ 0x556300704f00] Failed to resolve hostname cam.invalid: Name or service not known", AV_LOG_ERROR,
         OpenCause.HOST_NOT_FOUND),
        ("[tcp @ 0x556300704f00] Connection to tcp://10.0.0.1:554 failed: No route to host", AV_LOG_ERROR,
         OpenCause.UNREACHABLE),
    ],
)
def test_ffmpeg_lines(line: str, level: int, cause: OpenCause) -> None:
    failure = classify(config("rtsp://127.0.0.1/x"), [parse_line(line, level)], 0.01, 10.0)
    assert failure.cause is cause
    assert "0x" not in failure.detail and "@" not in failure.detail


def test_first_cause_wins_and_silence_is_a_timeout_only_after_the_timeout() -> None:
    refused = parse_line("[tcp @ 0x1] Connection to tcp://h:1 failed: Connection refused", AV_LOG_ERROR)
    noise = FfmpegMessage(AV_LOG_WARNING, "mjpeg", "overread 8")
    assert classify(config("http://h:1/x"), [noise, refused], 0.0, 5.0).cause is OpenCause.REFUSED
    assert classify(config("http://h:1/x"), [], 4.6, 5.0).cause is OpenCause.TIMEOUT
    unknown = classify(config("http://h:1/x"), [FfmpegMessage(AV_LOG_ERROR, "x", "odd")], 0.1, 5.0)
    assert (unknown.cause, unknown.detail) == (OpenCause.UNKNOWN, "odd")


def test_missing_file_or_device_is_not_found(tmp_path: Path) -> None:
    assert classify(config(str(tmp_path / "none.avi")), [], 0.0, 5.0).cause is OpenCause.NOT_FOUND
    assert classify(config("/dev/video97"), [], 0.0, 5.0).cause is OpenCause.NOT_FOUND


def test_credentials_in_an_echoed_url_are_masked() -> None:
    message = parse_line("[rtsp @ 0x2] cannot open rtsp://admin:hunter2@10.0.0.9/live: refused", AV_LOG_ERROR)
    assert "hunter2" not in message.text and "admin" not in message.text
    assert message.component == "rtsp"
