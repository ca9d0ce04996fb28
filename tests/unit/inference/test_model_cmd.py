"""``edgepost model check|bench|update`` through typer's runner: one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from drivers.camera.cli.model_cmd import app
from tests.unit.inference.graphs import constant_outputs_model, manifest_dict, write_model

TABLE = np.array([[32, 32, 8, 8, 0.9, 0.0]], dtype=np.float32).T[np.newaxis]


def test_check_ok_on_a_folder(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": TABLE})
    write_model(tmp_path / "m", data, manifest_dict(data, name="m"))
    result = CliRunner().invoke(app, ["check", "m", "--models-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok m (") and "yolov8 NCHW [-1, 3, 64, 64]" in result.stdout


def test_check_sha_mismatch_is_one_line_naming_the_field(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": TABLE})
    manifest = manifest_dict(data, name="m")
    manifest["sha256"] = "f" * 64
    path = write_model(tmp_path / "m", data, manifest)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:3:1 sha256: manifest.yaml sha256 ffff")
    assert "Traceback" not in result.output


def test_check_invalid_manifest_lists_each_problem_with_usage_exit(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": TABLE})
    path = write_model(tmp_path / "m", data, manifest_dict(data, name="m", decoder={"type": "detr"}, labels=[]))
    result = CliRunner().invoke(app, ["check", str(tmp_path / "m")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert any(f"{path}:" in line and "decoder: unknown decoder 'detr'" in line for line in lines)
    assert any("labels: List should have at least 1 item" in line for line in lines)


def test_check_unknown_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", "nope", "--models-dir", str(tmp_path)])
    assert result.exit_code == 2 and "model 'nope' not found" in result.stderr


def test_bench_prints_fps_and_latency(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": TABLE})
    write_model(tmp_path / "m", data, manifest_dict(data, name="m"))
    result = CliRunner().invoke(app, ["bench", "m", "--frames", "5", "--models-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("m: 5 frames 640x360, ") and " fps, latency p50 " in result.stdout


def test_update_installs_then_refuses_a_bad_file(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": TABLE})
    manifest = write_model(tmp_path / "in", data, manifest_dict(data, name="m"))
    target = tmp_path / "models"
    args = ["update", "m", "--file", str(tmp_path / "in" / "model.onnx"), "--manifest", str(manifest)]
    result = CliRunner().invoke(app, [*args, "--models-dir", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("model_updated m sha256 ")
    (tmp_path / "in" / "model.onnx").write_bytes(b"junk")
    result = CliRunner().invoke(app, [*args, "--models-dir", str(target)])
    assert result.exit_code == 1 and "model_update_failed m:" in result.stderr
    assert (target / "m" / "current" / "model.onnx").read_bytes() == data


def test_mounting_the_cli_and_config_imports_no_heavy_module() -> None:
    code = (
        "import sys, drivers.camera.cli.model_cmd, drivers.camera.inference.config, drivers.camera.inference.manifest;"
        "print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
