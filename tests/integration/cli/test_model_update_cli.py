"""``edgepost model`` as a technician runs it (the console script, no daemon): where ``update`` installs,
how its errors read, and that ``--help`` offers it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.camera.blob_model import build_blob_model, write_blob_model

pytestmark = pytest.mark.camera

EDGEPOST = Path(sys.executable).with_name("edgepost")
MODEL = "lane-blob"


def edgepost(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(EDGEPOST), *args], capture_output=True, text=True, timeout=120, env=env)


def test_model_help_offers_update() -> None:
    top = edgepost("--help")
    assert top.returncode == 0, top.stderr
    model_line = next(line for line in top.stdout.splitlines() if line.strip("│ ").startswith("model "))
    assert "update" in model_line, model_line
    sub = edgepost("model", "--help")
    assert sub.returncode == 0, sub.stderr
    description = sub.stdout.split("Options")[0]
    assert "update" in description, sub.stdout


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A box whose camera runs ``lane-blob`` from its own ``models_dir`` (not /var/lib/edgepost/models)."""
    write_blob_model(tmp_path / "models", MODEL)
    path = tmp_path / "config.yaml"
    path.write_text(
        f"gateway: {{id: pole-m}}\nstate_dir: {tmp_path / 'state'}\n"
        f"control: {{socket: {tmp_path / 'control.sock'}, group: null}}\n"
        "drivers:\n"
        "  - driver: camera\n"
        "    name: cams\n"
        "    cameras:\n"
        "      - name: north\n"
        "        source: rtsp://127.0.0.1:9/none\n"
        f"        inference: {{model: {MODEL}, models_dir: {tmp_path / 'models'}}}\n"
    )
    return path


def test_update_without_a_daemon_installs_where_the_config_loads_from(config: Path, tmp_path: Path) -> None:
    new = write_blob_model(tmp_path / "v2", MODEL, dead_convs=1)
    done = edgepost("-c", str(config), "model", "update", MODEL,
                    "--file", str(new / "blob.onnx"), "--manifest", str(new / "manifest.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    data = (new / "blob.onnx").read_bytes()
    assert (tmp_path / "models" / MODEL / "current" / "blob.onnx").read_bytes() == data
    assert hashlib.sha256(data).hexdigest() in done.stdout and str(tmp_path / "models") in done.stdout
    assert done.stderr == ""


def _bad(tmp_path: Path, fault: str) -> tuple[Path, Path]:
    """A candidate the user exported as ``yolo-export.onnx``, whose manifest says ``file: blob.onnx``."""
    folder = write_blob_model(tmp_path / "bad", MODEL)
    manifest = folder / "manifest.yaml"
    user_file = folder / "yolo-export.onnx"
    data = build_blob_model()
    text = manifest.read_text()
    good_sha = hashlib.sha256(data).hexdigest()
    if fault == "not-onnx":
        data = b"this is not an ONNX graph"
        text = text.replace(good_sha, hashlib.sha256(data).hexdigest())
    elif fault == "input-shape":
        text = text.replace("shape: [1, 3, 96, 160]", "shape: [1, 3, 64, 64]")
    elif fault == "checksum":
        text = text.replace(good_sha, "f" * 64)
    user_file.write_bytes(data)
    manifest.write_text(text)
    return user_file, manifest


@pytest.mark.parametrize(
    ("fault", "field"),
    [("not-onnx", "file"), ("input-shape", "input.shape"), ("checksum", "sha256")],
)
def test_update_errors_are_printed_once_and_name_the_users_files(
    config: Path, tmp_path: Path, fault: str, field: str
) -> None:
    user_file, manifest = _bad(tmp_path, fault)
    before = (tmp_path / "models" / MODEL / "manifest.yaml").read_bytes()
    done = edgepost("-c", str(config), "model", "update", MODEL, "--file", str(user_file), "--manifest", str(manifest))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("error: ") and f"{manifest}:" in line and f" {field}: " in line, line
    assert str(user_file) in line or fault == "input-shape", line
    assert ".staging" not in line and "blob.onnx" not in line, line
    assert not (tmp_path / "models" / MODEL / "current").exists()  # nothing installed
    assert (tmp_path / "models" / MODEL / "manifest.yaml").read_bytes() == before
