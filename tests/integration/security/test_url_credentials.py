"""Credentials in a camera URL's query string never leave the box: status, config show, diagnose, birth.

A real daemon (``edgepost run``) with a camera whose RTSP source (a closed loopback port) carries
a password in its userinfo and tokens in its query string; a real mosquitto holds the retained
birth. Every path must show the URL with each secret masked and every harmless part kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.fixtures.mosquitto import Mosquitto, free_port
from tests.integration.security.measured import EDGEPOST

pytest.importorskip("cv2")
pytestmark = [pytest.mark.camera, pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(180)]

GW = "pole-cred"
SECRETS = ("UserInfoPw", "S3cretPw", "K3yValue", "T0kenValue", "AuthValue", "PwdValue")
SOURCE = ("rtsp://viewer:UserInfoPw@127.0.0.1:{port}/cam?user=admin&password=S3cretPw&api_key=K3yValue"
          "&access_token=T0kenValue&Auth=AuthValue&channel=1#pwd=PwdValue")
SHOWN = ("rtsp://***@127.0.0.1:{port}/cam?user=admin&password=***&api_key=***"
         "&access_token=***&Auth=***&channel=1#pwd=***")


class Pole:
    def __init__(self, workdir: Path, broker: Mosquitto) -> None:
        self.workdir = workdir
        self.port = free_port()  # nothing listens: the camera keeps retrying, its URL stays in every view
        self.config = workdir / "config.yaml"
        self.config.write_text(
            f"gateway: {{id: {GW}}}\n"
            f"state_dir: {workdir / 'state'}\n"
            "drivers:\n"
            "  - driver: camera\n"
            "    name: cams\n"
            f"    cameras: [{{name: gate, source: '{SOURCE.format(port=self.port)}', motion: {{enabled: false}}}}]\n"
            f"uplink: {{host: 127.0.0.1, port: {broker.port}, reconnect_min_s: 0.2, reconnect_max_s: 1}}\n"
            f"control: {{socket: {workdir / 'control.sock'}, group: null}}\n"
        )
        self.shown = SHOWN.format(port=self.port)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(EDGEPOST), "-c", str(self.config), *args], capture_output=True, text=True,
                              timeout=60, cwd=self.workdir, env={**os.environ, "COLUMNS": "400"})

    def assert_masked(self, text: str, where: str) -> None:
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"{where} shows {leaked}:\n{text[:3000]}"
        assert self.shown in text, f"{where} does not show the masked URL:\n{text[:3000]}"


@pytest.fixture
def pole(tmp_path: Path) -> Iterator[tuple[Pole, Mosquitto]]:
    with Mosquitto(tmp_path) as broker:
        pole = Pole(tmp_path, broker)
        with (tmp_path / "daemon.log").open("wb") as log:
            proc = subprocess.Popen([str(EDGEPOST), "-c", str(pole.config), "run"], stdout=log, stderr=log,
                                    cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while pole.cli("status").returncode != 0:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()
                time.sleep(0.3)
            yield pole, broker
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def column_text(table_text: str, column: str) -> str:
    """A column's cells of a rich table as one string: the status tables fold a long cell over lines."""
    lines = table_text.splitlines()
    head = next(i for i, line in enumerate(lines) if "┃" in line and f" {column} " in line)
    index = [part.strip() for part in lines[head].split("┃")].index(column)
    parts = []
    for line in lines[head + 1:]:
        if line.startswith("└"):
            break
        if "│" in line:
            parts.append(line.split("│")[index].strip())
    return "".join(parts)


def test_status_masks_query_credentials(pole: tuple[Pole, Mosquitto]) -> None:
    p, _ = pole
    done = p.cli("--json", "status")
    assert done.returncode == 0, done.stderr
    p.assert_masked(done.stdout, "--json status")
    # what a person reads: the table folds the URL over several lines (ops: status fits the terminal)
    done = p.cli("status")
    assert done.returncode == 0, done.stderr
    assert not [s for s in SECRETS if s in done.stdout], done.stdout
    p.assert_masked(column_text(done.stdout, "source"), "status (the source column, unfolded)")


def test_config_show_masks_query_credentials(pole: tuple[Pole, Mosquitto]) -> None:
    p, _ = pole
    for args in (("config", "show"), ("--json", "config", "show")):
        done = p.cli(*args)
        assert done.returncode == 0, done.stderr
        p.assert_masked(done.stdout, " ".join(args))


def test_diagnose_bundle_masks_query_credentials(pole: tuple[Pole, Mosquitto]) -> None:
    p, _ = pole
    bundle = p.workdir / "bundle.tar.gz"
    done = p.cli("diagnose", "--output", str(bundle))
    assert done.returncode == 0, done.stderr
    with tarfile.open(bundle) as tar:
        parts = {m.name.rsplit("/", 1)[-1]: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
                 for m in tar.getmembers() if m.isfile()}
    for name in ("config.json", "status.json"):
        p.assert_masked(parts[name], f"diagnose {name}")
    for name, text in parts.items():
        assert not [s for s in SECRETS if s in text], f"diagnose {name} leaks a secret"


def test_retained_birth_masks_query_credentials(pole: tuple[Pole, Mosquitto]) -> None:
    p, broker = pole
    with broker.collector(f"edgepost/{GW}/birth") as late:  # subscribes after the birth: gets the retained copy
        birth = next(m for m in late.wait_for(lambda msgs: any(m.retain for m in msgs), timeout=30) if m.retain)
    p.assert_masked(birth.payload.decode(), "retained birth")
    devices = orjson.loads(birth.payload)["devices"]
    assert [d["attributes"]["source"] for d in devices if d["name"] == "gate"] == [p.shown]

