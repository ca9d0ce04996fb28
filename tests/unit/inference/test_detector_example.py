"""The bring-your-own-detector example (``models/examples/yolov8n-coco``, ``docs/custom-detector.md``) fits a
real YOLOv8n ONNX export: a graph built here with onnx.helper with the export's inputs, outputs and
metadata stands in for the weights (nothing is downloaded), and ``edgepost model check`` accepts it."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "models" / "examples" / "yolov8n-coco"
EDGEPOST = Path(sys.executable).with_name("edgepost")
ANCHORS = 8400  # 80x80 + 40x40 + 20x20 cells at imgsz 640


def labels() -> list[str]:
    manifest = YAML(typ="safe").load((EXAMPLE / "manifest.yaml").read_text())
    return list(manifest["labels"])


def stand_in_export(batch: int | str = 1) -> bytes:
    """Input ``images [1, 3, 640, 640]``, output ``output0 [1, 84, 8400]`` and a ``names`` metadata entry,
    as ``yolo export model=yolov8n.pt format=onnx imgsz=640`` writes them (``dynamic=True``: symbolic dims).
    Its one detection: a car at (300..400, 295..345) in input pixels."""
    table = np.zeros((1, 4 + len(labels()), ANCHORS), np.float32)
    table[0, :4, 0] = [350.0, 320.0, 100.0, 50.0]
    table[0, 4 + labels().index("car"), 0] = 0.9
    inits = [
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(np.array([84, ANCHORS], np.int64), "rest"),
        numpy_helper.from_array(np.array([0], np.int64), "zero1"),
        numpy_helper.from_array(np.array([1], np.int64), "one1"),
    ]
    nodes = [  # output0 = the table repeated over the input's batch
        helper.make_node("Shape", ["images"], ["in_shape"]),
        helper.make_node("Slice", ["in_shape", "zero1", "one1"], ["batch"]),
        helper.make_node("Concat", ["batch", "rest"], ["out_shape"], axis=0),
        helper.make_node("Expand", ["table", "out_shape"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "yolov8n-stand-in",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 84, ANCHORS])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch")
    model.ir_version = 8
    names = "{" + ", ".join(f"{i}: {label!r}" for i, label in enumerate(labels())) + "}"
    helper.set_model_props(model, {"author": "Ultralytics", "task": "detect", "imgsz": "[640, 640]", "names": names})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def installed(tmp_path: Path, data: bytes, shape: str | None = None) -> Path:
    """The example folder as the integrator fills it: their export beside it, its sha256 pasted in."""
    folder = tmp_path / "models" / "yolov8n-coco"
    shutil.copytree(EXAMPLE, folder)
    (folder / "yolov8n.onnx").write_bytes(data)
    text = (folder / "manifest.yaml").read_text()
    text, count = re.subn(r'sha256: "0{64}"', f'sha256: "{hashlib.sha256(data).hexdigest()}"', text)
    assert count == 1
    if shape is not None:
        text = text.replace("shape: [1, 3, 640, 640]", f"shape: {shape}")
    (folder / "manifest.yaml").write_text(text)
    return folder


def edgepost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EDGEPOST), *args], capture_output=True, text=True, timeout=120)


def test_the_example_labels_fit_the_exports_84_rows() -> None:
    assert len(labels()) == 80 and len(set(labels())) == 80
    assert labels()[:3] == ["person", "bicycle", "car"] and labels()[-1] == "toothbrush"


@pytest.mark.parametrize(("batch", "shape"), [(1, None), ("batch", "[-1, 3, 640, 640]")])
def test_model_check_accepts_the_example_for_a_yolov8n_export(tmp_path: Path, batch: int | str, shape: str) -> None:
    folder = installed(tmp_path, stand_in_export(batch), shape)
    done = edgepost("model", "check", "yolov8n-coco", "--models-dir", str(folder.parent))
    assert done.returncode == 0, done.stderr
    assert f"ok yolov8n-coco ({folder / 'manifest.yaml'})" in done.stdout
    assert "yolov8 NCHW" in done.stdout and "80 labels" in done.stdout and "licence AGPL-3.0" in done.stdout
    assert "self-test 1 detections" in done.stdout
    assert ("batch dynamic" in done.stdout) == (batch == "batch")


def test_the_shipped_placeholder_checksum_is_refused_naming_the_field(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "yolov8n-coco"
    shutil.copytree(EXAMPLE, folder)
    (folder / "yolov8n.onnx").write_bytes(stand_in_export())
    done = edgepost("model", "check", str(folder))
    assert done.returncode == 1
    assert f"{folder / 'manifest.yaml'}:8:" in done.stderr and "sha256" in done.stderr


def test_inspect_export_prints_what_the_manifest_needs(tmp_path: Path) -> None:
    data = stand_in_export()
    export = tmp_path / "yolov8n.onnx"
    export.write_bytes(data)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "inspect_export.py"), str(export)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    printed = YAML(typ="safe").load("\n".join(line for line in done.stdout.splitlines() if not line.startswith("#")))
    assert printed == {"file": "yolov8n.onnx", "sha256": hashlib.sha256(data).hexdigest(), "labels": labels()}
    assert "# input images: [1, 3, 640, 640] tensor(float)" in done.stdout
    assert "# output output0: [1, 84, 8400] tensor(float)" in done.stdout
