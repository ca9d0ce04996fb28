"""A real tiny ONNX detector built with onnx.helper: one box per colour channel.

Class ``c`` is "pixels whose channel c (RGB order) is above 0.6 after /255". For each class the
graph finds the first/last bright column and row (ReduceMax + ArgMax with select_last_index) and
emits a YOLOv8-shaped output ``[1, 4 + nc, nc]``: anchor ``c`` holds that class's box
(cx, cy, w, h in input pixels) and a score of 1 when the class is present, 0 otherwise.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LABELS = ("car", "person")  # red blobs are cars, green blobs are persons
INPUT_W = 160
INPUT_H = 96


def _channel_box(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], c: int) -> str:
    p = f"c{c}_"
    nodes += [
        helper.make_node("Slice", ["x", f"{p}start", f"{p}end", "axis1"], [f"{p}chan"]),  # [1,1,H,W]
        helper.make_node("Greater", [f"{p}chan", "thr"], [f"{p}maskb"]),
        helper.make_node("Cast", [f"{p}maskb"], [f"{p}mask"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", [f"{p}mask", "axes_h"], [f"{p}cols"], keepdims=0),  # [1,1,W]
        helper.make_node("ReduceMax", [f"{p}mask", "axes_w"], [f"{p}rows"], keepdims=0),  # [1,1,H]
        helper.make_node("ArgMax", [f"{p}cols"], [f"{p}x1i"], axis=2, keepdims=0),
        helper.make_node("ArgMax", [f"{p}cols"], [f"{p}x2i"], axis=2, keepdims=0, select_last_index=1),
        helper.make_node("ArgMax", [f"{p}rows"], [f"{p}y1i"], axis=2, keepdims=0),
        helper.make_node("ArgMax", [f"{p}rows"], [f"{p}y2i"], axis=2, keepdims=0, select_last_index=1),
        helper.make_node("ReduceMax", [f"{p}cols", "axes_all"], [f"{p}score"], keepdims=0),  # [1]
    ]
    for name in ("x1", "x2", "y1", "y2"):
        nodes.append(helper.make_node("Cast", [f"{p}{name}i"], [f"{p}{name}"], to=TensorProto.FLOAT))  # [1,1]
    nodes += [
        helper.make_node("Add", [f"{p}x1", f"{p}x2"], [f"{p}xs"]),
        helper.make_node("Add", [f"{p}xs", "one"], [f"{p}xs1"]),
        helper.make_node("Mul", [f"{p}xs1", "half"], [f"{p}cx"]),
        helper.make_node("Add", [f"{p}y1", f"{p}y2"], [f"{p}ys"]),
        helper.make_node("Add", [f"{p}ys", "one"], [f"{p}ys1"]),
        helper.make_node("Mul", [f"{p}ys1", "half"], [f"{p}cy"]),
        helper.make_node("Sub", [f"{p}x2", f"{p}x1"], [f"{p}wd"]),
        helper.make_node("Add", [f"{p}wd", "one"], [f"{p}w"]),
        helper.make_node("Sub", [f"{p}y2", f"{p}y1"], [f"{p}hd"]),
        helper.make_node("Add", [f"{p}hd", "one"], [f"{p}h"]),
        helper.make_node("Reshape", [f"{p}score", "shape11"], [f"{p}s"]),
    ]
    scores = [f"{p}s" if k == c else "zero11" for k in range(len(LABELS))]
    nodes.append(
        helper.make_node("Concat", [f"{p}cx", f"{p}cy", f"{p}w", f"{p}h", *scores], [f"{p}row"], axis=1)
    )  # [1, 4+nc]
    nodes.append(helper.make_node("Unsqueeze", [f"{p}row", "axes_last"], [f"{p}col"]))  # [1, 4+nc, 1]
    inits += [
        helper.make_tensor(f"{p}start", TensorProto.INT64, [1], [c]),
        helper.make_tensor(f"{p}end", TensorProto.INT64, [1], [c + 1]),
    ]
    return f"{p}col"


def _dead_weight(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], convs: int, channels: int) -> str:
    """``convs`` 3x3 convolutions whose result is multiplied by 0: model cost without changing outputs.

    Lets benches give the blob detector the compute of a real small detector."""
    rng = np.random.default_rng(0)
    previous, in_channels = "x", 3
    for i in range(convs):
        weight = (rng.standard_normal((channels, in_channels, 3, 3)) * 0.1).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, f"dw{i}_w"))
        nodes.append(helper.make_node("Conv", [previous, f"dw{i}_w"], [f"dw{i}_c"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"dw{i}_c"], [f"dw{i}_r"]))
        previous, in_channels = f"dw{i}_r", channels
    inits.append(helper.make_tensor("dw_zero", TensorProto.FLOAT, [], [0.0]))
    nodes.append(helper.make_node("ReduceMean", [previous], ["dw_mean"], keepdims=1))  # [1,1,1,1]
    nodes.append(helper.make_node("Reshape", ["dw_mean", "shape111"], ["dw_mean3"]))
    nodes.append(helper.make_node("Mul", ["dw_mean3", "dw_zero"], ["dw_out"]))
    inits.append(helper.make_tensor("shape111", TensorProto.INT64, [3], [1, 1, 1]))
    return "dw_out"


def build_blob_model(
    input_w: int = INPUT_W, input_h: int = INPUT_H, dead_convs: int = 0, dead_channels: int = 16
) -> bytes:
    nodes: list[onnx.NodeProto] = []
    inits = [
        helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("thr", TensorProto.FLOAT, [], [0.6]),
        helper.make_tensor("axes_h", TensorProto.INT64, [1], [2]),
        helper.make_tensor("axes_w", TensorProto.INT64, [1], [3]),
        helper.make_tensor("axes_all", TensorProto.INT64, [2], [1, 2]),
        helper.make_tensor("axes_last", TensorProto.INT64, [1], [2]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("shape11", TensorProto.INT64, [2], [1, 1]),
        helper.make_tensor("zero11", TensorProto.FLOAT, [1, 1], [0.0]),
    ]
    columns = [_channel_box(nodes, inits, c) for c in range(len(LABELS))]
    if dead_convs:
        nodes.append(helper.make_node("Concat", columns, ["boxes"], axis=2))
        dead = _dead_weight(nodes, inits, dead_convs, dead_channels)
        nodes.append(helper.make_node("Add", ["boxes", dead], ["output0"]))
    else:
        nodes.append(helper.make_node("Concat", columns, ["output0"], axis=2))
    graph = helper.make_graph(
        nodes,
        "blob_detector",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, input_h, input_w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + len(LABELS), len(LABELS)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_blob_model(
    models_dir: Path,
    name: str = "blob",
    input_w: int = INPUT_W,
    input_h: int = INPUT_H,
    dead_convs: int = 0,
    dead_channels: int = 16,
) -> Path:
    """Write ``models_dir/<name>/{blob.onnx,manifest.yaml}``; returns the model folder."""
    folder = models_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    data = build_blob_model(input_w, input_h, dead_convs, dead_channels)
    (folder / "blob.onnx").write_bytes(data)
    labels = "\n".join(f"  - {label}" for label in LABELS)
    (folder / "manifest.yaml").write_text(
        f"""name: {name}
file: blob.onnx
sha256: {hashlib.sha256(data).hexdigest()}
task: detection
input:
  shape: [1, 3, {input_h}, {input_w}]
  layout: NCHW
  color: RGB
  normalization: {{scale: 0.00392156862745098}}
  letterbox: {{enabled: true, pad_value: 0, anchor: center}}
decoder:
  type: yolov8
labels:
{labels}
thresholds: {{confidence: 0.5, iou: 0.45}}
licence: Apache-2.0
provenance: {{source: "built by tests/integration/camera/blob_model.py"}}
"""
    )
    return folder
