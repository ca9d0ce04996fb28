"""One JPEG from a camera when no daemon runs (the CLI opens the source itself)."""

from __future__ import annotations

from typing import Any

from agent.cli.exit_codes import CliError, ExitCode, Unavailable
from agent.cli.redact import redact_url
from agent.config import AgentConfigBase
from agent.errors import DeviceTimeout


def camera_source(config: AgentConfigBase, camera: str) -> str | int:
    known: list[str] = []
    for entry in config.drivers:
        for cam in getattr(entry, "cameras", ()):
            name = getattr(cam, "name", None)
            if name == camera:
                source: str | int = cam.source
                return source
            if isinstance(name, str):
                known.append(name)
    raise CliError(f"no camera named {camera!r} in the config (known: {', '.join(known) or 'none'})", ExitCode.USAGE)


def grab_jpeg(config: AgentConfigBase, camera: str, attempts: int = 25, allow_device: bool = True) -> bytes:
    """``allow_device=False`` while a daemon runs: it holds the V4L2 device, a network stream can be shared."""
    source = camera_source(config, camera)
    if not allow_device and (isinstance(source, int) or source.startswith("/dev/")):
        raise Unavailable(
            f"{camera} is a local device the running daemon holds, and its driver cannot hand out a frame"
        )
    try:
        import cv2
    except ImportError as exc:
        raise Unavailable(f"OpenCV is not installed ({exc})") from None
    capture: Any = cv2.VideoCapture(source)
    try:
        if not capture.isOpened():
            where = redact_url(source) if isinstance(source, str) else f"device {source}"
            raise DeviceTimeout(camera, f"cannot open {where}")
        for _ in range(attempts):  # the first frames of a stream can be empty while it starts
            ok, frame = capture.read()
            if ok and frame is not None:
                encoded_ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
                if encoded_ok:
                    return bytes(buffer.tobytes())
        raise DeviceTimeout(camera, "no frame received")
    finally:
        capture.release()
