"""Tiny ONNX graphs with known outputs, and manifests for them, shared by the inference tests."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[3]


def _finish(graph: onnx.GraphProto) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgepost-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _batched_constant(name: str, value: np.ndarray, input_name: str = "images") -> tuple[list[Any], list[Any]]:
    """Nodes + initialisers giving ``value`` (leading dim 1) repeated over the input's batch."""
    rest = np.asarray(value.shape[1:], dtype=np.int64)
    inits = [
        numpy_helper.from_array(value.astype(value.dtype), f"{name}_value"),
        numpy_helper.from_array(rest, f"{name}_rest"),
    ]
    nodes = [
        helper.make_node("Shape", [input_name], [f"{name}_in_shape"]),
        helper.make_node("Slice", [f"{name}_in_shape", "zero1", "one1"], [f"{name}_batch"]),
        helper.make_node("Concat", [f"{name}_batch", f"{name}_rest"], [f"{name}_shape"], axis=0),
        helper.make_node("Expand", [f"{name}_value", f"{name}_shape"], [name]),
    ]
    return nodes, inits


def _slice_inits() -> list[Any]:
    return [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one1"),
    ]


def constant_outputs_model(outputs: dict[str, np.ndarray], size: int = 64, batch: str | int = "batch") -> bytes:
    """Input ``images [batch, 3, size, size]``; each output is a constant repeated over the batch."""
    nodes: list[Any] = []
    inits: list[Any] = _slice_inits()
    infos = []
    for name, value in outputs.items():
        more_nodes, more_inits = _batched_constant(name, value)
        nodes += more_nodes
        inits += more_inits
        elem = TensorProto.FLOAT if value.dtype == np.float32 else TensorProto.INT64
        infos.append(helper.make_tensor_value_info(name, elem, [batch, *value.shape[1:]]))
    graph = helper.make_graph(
        nodes,
        "constants",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size, size])],
        infos,
        inits,
    )
    return _finish(graph)


def channel_mean_model(size: int = 8, layout: str = "NCHW", uint8: bool = False) -> bytes:
    """Classification output ``[batch, 3]`` = the mean of each input channel (an exact preprocessing probe).

    With ``uint8`` the input is uint8 and divided by 255 inside the graph.
    """
    axes = [2, 3] if layout == "NCHW" else [1, 2]
    shape = ["batch", 3, size, size] if layout == "NCHW" else ["batch", size, size, 3]
    nodes, inits, source = [], [], "images"
    if uint8:
        inits.append(numpy_helper.from_array(np.array(255.0, dtype=np.float32), "full_scale"))
        nodes += [
            helper.make_node("Cast", ["images"], ["as_float"], to=TensorProto.FLOAT),
            helper.make_node("Div", ["as_float", "full_scale"], ["scaled"]),
        ]
        source = "scaled"
    nodes.append(helper.make_node("ReduceMean", [source], ["probs"], axes=axes, keepdims=0))
    graph = helper.make_graph(
        nodes,
        "channel_mean",
        [helper.make_tensor_value_info("images", TensorProto.UINT8 if uint8 else TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3])],
        inits,
    )
    return _finish(graph)


def blob_model_bytes() -> bytes:
    """The shipped generated detector, built by its own script."""
    spec = importlib.util.spec_from_file_location("blob_build", REPO / "models" / "blob-detector" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model: onnx.ModelProto = module.build()
    return model.SerializeToString()


def manifest_dict(
    data: bytes,
    *,
    name: str = "m",
    file: str = "model.onnx",
    size: int = 64,
    decoder: dict[str, Any] | None = None,
    labels: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "task": "detection",
        "input": {
            "name": "images",
            "shape": [-1, 3, size, size],
            "layout": "NCHW",
            "color": "RGB",
            "normalization": {"scale": 1 / 255, "mean": [0, 0, 0], "std": [1, 1, 1]},
            "letterbox": {"enabled": True, "anchor": "center", "pad_value": 0},
        },
        "decoder": decoder or {"type": "yolov8"},
        "labels": ["a", "b"] if labels is None else labels,
        "thresholds": {"confidence": 0.5, "iou": 0.5},
        "licence": "Apache-2.0",
        "provenance": {"source": "tests"},
    }
    if doc["decoder"]["type"] == "classification":
        doc["task"] = "classification"
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    return doc


def write_model(folder: Path, data: bytes, manifest: dict[str, Any]) -> Path:
    """``folder/model file`` + ``folder/manifest.yaml``; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / manifest["file"]).write_bytes(data)
    path = folder / "manifest.yaml"
    with path.open("w") as out:
        YAML().dump(manifest, out)
    return path
