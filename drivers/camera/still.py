"""One picture straight from a camera's source, for ``edgepost camera snapshot`` when no daemon runs.

It opens the source like the daemon does (``source.open_source``: timeouts, a typed cause when it
fails, OpenCV's and FFmpeg's output in the structured log) and masks the frame like every picture that
leaves the driver (``snapshot.still_jpeg``). No model runs here, so only the privacy regions apply.
"""

from __future__ import annotations

from agent.errors import DeviceError, DeviceTimeout
from agent.redact import redact_url
from drivers.camera import ffmpeg_log
from drivers.camera.config import CameraConfig
from drivers.camera.open_cause import OpenFailure
from drivers.camera.snapshot import still_jpeg
from drivers.camera.source import Opener, open_source, open_video_source

FIRST_FRAME_ATTEMPTS = 25  # the first reads of a stream can come back empty while it starts


def grab_still(config: CameraConfig, opener: Opener = open_video_source) -> bytes:
    """Blocking. The first frame of ``config.source`` as a masked JPEG at the source's resolution."""
    with ffmpeg_log.attributed(config.name):
        source = open_source(config, opener)
        if isinstance(source, OpenFailure):
            raise DeviceTimeout(config.name, f"cannot open {redact_url(config.source)}: {source.describe()}")
        try:
            for _ in range(FIRST_FRAME_ATTEMPTS):
                ok, image = source.read()
                if ok and image is not None:
                    jpeg = still_jpeg(image, (), config.snapshots)
                    if jpeg is None:
                        raise DeviceError(config.name, "the frame could not be encoded as JPEG")
                    return jpeg
        finally:
            source.release()
    raise DeviceTimeout(config.name, "no frame received")
