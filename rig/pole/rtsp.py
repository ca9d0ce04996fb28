"""A real RTSP server for cameras on the pole: GStreamer's gst-rtsp-server from Debian's packages.

The server runs under the SYSTEM python3 (python3-gi is not in the venv) in a subprocess bound to
127.0.0.1 on a free port. It serves MJPEG over RTP (``videotestsrc ! jpegenc ! rtpjpegpay``) so
no H.264 encoder is needed. ``stop()``/``start()`` keep the same port, so a camera can watch the
stream die and come back.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from rig.errors import PoleError
from rig.pole.ports import free_port

SYSTEM_PYTHON = "/usr/bin/python3"

_SERVER = r"""
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer

Gst.init(None)
port, mount, launch = sys.argv[1], sys.argv[2], sys.argv[3]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(launch)
factory.set_shared(True)
server.get_mount_points().add_factory(mount, factory)
if server.attach(None) == 0:
    sys.exit("cannot bind 127.0.0.1:" + port)
print("ready", flush=True)
GLib.MainLoop().run()
"""


def pattern_launch(width: int = 320, height: int = 192, fps: int = 10, pattern: str = "ball") -> str:
    return (
        f"( videotestsrc is-live=true pattern={pattern} ! video/x-raw,width={width},height={height},"
        f"framerate={fps}/1,format=I420 ! jpegenc quality=70 ! rtpjpegpay name=pay0 pt=26 )"
    )


_ENCODERS = {
    "h264": ("x264enc", "rtph264pay"),
    "h265": ("x265enc", "rtph265pay"),
}


def encoded_launch(
    codec: str, width: int = 320, height: int = 192, fps: int = 25, pattern: str = "ball",
    foreground: int | None = None,
) -> str:
    """H.264/H.265 over RTP, a key frame every second, tuned for latency as IP cameras are.

    ``pattern=ball`` draws one ball (``foreground`` colour, 0xAARRGGBB) on black that sweeps left and
    right across the whole frame, crossing its vertical centre line about every 3.7 s at 25 fps.
    """
    encoder, payloader = _ENCODERS[codec]
    colour = "" if foreground is None else f" foreground-color={foreground:#010x}"
    return (
        f"( videotestsrc is-live=true pattern={pattern}{colour} ! video/x-raw,width={width},height={height},"
        f"framerate={fps}/1,format=I420 ! {encoder} tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
        f"! {payloader} name=pay0 pt=96 config-interval=1 )"
    )


def encoder_available(codec: str) -> bool:
    """Whether GStreamer (under the system python) has the encoder ``encoded_launch`` needs."""
    if not rtsp_available():
        return False
    encoder, payloader = _ENCODERS[codec]
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi, sys; gi.require_version('Gst', '1.0'); from gi.repository import Gst; "
         f"Gst.init(None); sys.exit(0 if Gst.ElementFactory.find('{encoder}') and "
         f"Gst.ElementFactory.find('{payloader}') else 1)"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def file_launch(path: Path) -> str:
    """Serve an MJPG .avi file (decoded and re-encoded as RTP/JPEG, played in real time)."""
    return (
        f"( filesrc location={path} ! avidemux ! jpegdec ! videoconvert ! video/x-raw,format=I420 "
        "! jpegenc ! rtpjpegpay name=pay0 pt=26 )"
    )


def rtsp_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


class RtspServer:
    def __init__(self, launch: str | None = None, mount: str = "/cam", port: int | None = None) -> None:
        self.launch = launch or pattern_launch()
        self.mount = mount
        self.port = port or free_port()
        self._proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        self._proc = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", _SERVER, str(self.port), self.mount, self.launch],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self._proc.stdout.readline()  # "ready" once bound, "" if it died
        if line.strip() != "ready":
            err = self._proc.stderr.read() if self._proc.stderr else ""
            self.stop()
            raise PoleError(f"RTSP server did not start on port {self.port}: {err.strip()}")
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise PoleError(f"RTSP server on port {self.port} is not accepting connections")

    def stop(self) -> None:
        """Kill the server (like a camera losing power): no goodbye to connected clients."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
