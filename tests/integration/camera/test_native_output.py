"""What OpenCV and FFmpeg print goes through the structured logger: ``edgepost run`` (the installed console
script, as systemd starts it) with cameras that cannot open, and ``edgepost camera snapshot`` without a
daemon. Their stderr holds only structured lines (and the CLI's one ``edgepost: error:`` line), and the
cause of each failed open reaches MQTT in the ``camera_state`` event and ``edgepost status``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fixtures.mosquitto import Mosquitto, Received
from tests.integration.camera.sources import FailingSources, failing_sources

pytestmark = [pytest.mark.camera, pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(150)]
GW = "pole-native"
# every line: [time=...] level=... logger=... event=... (no time= under journald, which adds its own)
HEAD = r"^(?:time=\S+ )?level=(?:debug|info|warning|error|critical) logger=[\w.]+ "
STRUCTURED = re.compile(HEAD + r"event=\w+( |$)")
EDGEPOST = Path(sys.executable).with_name("edgepost")


@pytest.fixture
def sources() -> Iterator[FailingSources]:
    with failing_sources() as found:
        yield found


def write_config(tmp_path: Path, sources: FailingSources, mqtt_port: int) -> Path:
    cameras = {"locked": sources.unauthorized, "unplugged": sources.refused, "hung": sources.timeout}
    lines = [
        f"gateway: {{id: {GW}}}",
        f"state_dir: {tmp_path / 'state'}",
        f"control: {{socket: {tmp_path / 'control.sock'}, group: null}}",
        f"uplink: {{host: 127.0.0.1, port: {mqtt_port}, reconnect_min_s: 0.2, reconnect_max_s: 1}}",
        "drivers:",
        "  - driver: camera",
        "    name: cams",
        "    cameras:",
    ]
    for name, source in cameras.items():
        lines += [
            f"      - {{name: {name}, source: '{source}', width: 160, height: 96, stall_timeout_s: 1.5,",
            "         reopen_backoff_s: 0.5, reopen_backoff_max_s: 1.0, motion: {enabled: false}}",
        ]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def camera_states(messages: list[Received]) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = {}
    for m in messages:
        if not m.topic.endswith("/events"):
            continue
        payload = m.payload if m.payload[:1] == b"{" else zlib.decompress(m.payload)
        for record in orjson.loads(payload)["records"]:
            if record.get("ev") == "camera_state":
                states.setdefault(record["dev"], record["data"])
    return states


def unstructured(stderr: str, allowed: tuple[str, ...] = ()) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip() and not STRUCTURED.match(ln) and not ln.startswith(allowed)]


def test_daemon_stderr_is_structured_and_mqtt_gets_the_cause(sources: FailingSources, tmp_path: Path) -> None:
    with Mosquitto(tmp_path) as broker, broker.collector("edgepost/#") as sub:
        config = write_config(tmp_path, sources, broker.port)
        log = tmp_path / "daemon.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen([str(EDGEPOST), "-c", str(config), "run"], stdout=stderr, stderr=stderr)
        try:
            messages = sub.wait_for(lambda msgs: len(camera_states(msgs)) == 3, 60)
            status = subprocess.run(
                [str(EDGEPOST), "-c", str(config), "--json", "status"], capture_output=True, text=True, timeout=60
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(40)
    assert code == 0
    states = camera_states(messages)
    assert {name: data["cause"] for name, data in states.items()} == {
        "locked": "unauthorized", "unplugged": "refused", "hung": "timeout",
    }
    assert all(data["state"] == "offline" and data["reason"] == "open failed" for data in states.values())
    assert status.returncode == 0, status.stderr
    cameras = orjson.loads(status.stdout)["status"]["drivers"]["cams"]["cameras"]
    assert {name: (cam["state"], cam["cause"]) for name, cam in cameras.items()} == {
        "locked": ("offline", "unauthorized"), "unplugged": ("offline", "refused"), "hung": ("offline", "timeout"),
    }
    assert "401" in cameras["locked"]["cause_detail"]
    text = log.read_text(errors="replace")
    assert unstructured(text) == [], text[-4000:]
    assert "HTTP error 401" in text  # FFmpeg's own words are kept, as a field of a structured line
    assert re.search(r"^(?:time=\S+ )?level=warning logger=\S+ event=ffmpeg_log .*camera=locked .*HTTP error 401",
                     text, re.M), text[-4000:]
    assert re.search(HEAD + "event=opencv_log ", text, re.M), text[-4000:]  # OpenCV's own warnings too


@pytest.mark.parametrize(("camera", "cause"), [("unplugged", "refused"), ("locked", "unauthorized")])
def test_cli_snapshot_stderr_is_structured_and_names_the_cause(
    sources: FailingSources, tmp_path: Path, camera: str, cause: str
) -> None:
    config = write_config(tmp_path, sources, 1)  # no daemon runs: the CLI opens the source itself
    done = subprocess.run(
        [str(EDGEPOST), "-c", str(config), "camera", "snapshot", camera, "-o", str(tmp_path / "x.jpg")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 4, done.stderr  # the device did not answer
    assert unstructured(done.stderr, ("edgepost: error:",)) == [], done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("edgepost: error:")]
    assert len(errors) == 1 and f": {cause}" in errors[0], done.stderr
    assert not (tmp_path / "x.jpg").exists()
