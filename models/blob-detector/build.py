"""Generate ``blob.onnx``: a tiny, real YOLOv8-shaped detector of ONE bright blob (demo and tests).

No weights, no download: the graph thresholds the mean brightness of the (letterboxed, 0..1) input,
finds the rows/columns that contain bright pixels and reports their bounding box as one YOLOv8
anchor ``[1, 4 + 1, 1]`` = cx, cy, w, h, score (1.0 when a blob is present, else 0). Boxes are in
input pixels, so the runtime's letterbox inverse maps them back to the frame.

    .venv/bin/python models/blob-detector/build.py            # writes blob.onnx, prints its sha256
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 64
THRESHOLD = 0.5
BIG = 1.0e6


def build(size: int = SIZE, threshold: float = THRESHOLD) -> onnx.ModelProto:
    """Input ``images [N, 3, size, size]`` float 0..1 -> ``output0 [N, 5, 1]``."""
    idx = np.arange(size, dtype=np.float32)
    inits = [
        numpy_helper.from_array(np.array(threshold, dtype=np.float32), "thr"),
        numpy_helper.from_array(idx.reshape(1, 1, 1, size), "col_idx"),
        numpy_helper.from_array(idx.reshape(1, 1, size, 1), "row_idx"),
        numpy_helper.from_array(np.array(BIG, dtype=np.float32), "big"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two"),
        numpy_helper.from_array(np.array([-1, 1, 1], dtype=np.int64), "shape_n11"),
    ]
    n = helper.make_node
    nodes = [
        n("ReduceMean", ["images"], ["grey"], axes=[1], keepdims=1),  # [N,1,H,W]
        n("Greater", ["grey", "thr"], ["bright_b"]),
        n("Cast", ["bright_b"], ["bright"], to=TensorProto.FLOAT),
        n("ReduceMax", ["bright"], ["cols"], axes=[2], keepdims=1),  # [N,1,1,W]
        n("ReduceMax", ["bright"], ["rows"], axes=[3], keepdims=1),  # [N,1,H,1]
        # first bright column = min over (bright ? idx : BIG); last = max over bright * (idx + 1)
        n("Sub", ["one", "cols"], ["cols_off"]),
        n("Mul", ["cols_off", "big"], ["cols_pen"]),
        n("Add", ["col_idx", "cols_pen"], ["cols_cand"]),
        n("ReduceMin", ["cols_cand"], ["x1"], axes=[1, 2, 3], keepdims=0),
        n("Add", ["col_idx", "one"], ["col_end"]),
        n("Mul", ["cols", "col_end"], ["cols_end"]),
        n("ReduceMax", ["cols_end"], ["x2"], axes=[1, 2, 3], keepdims=0),
        n("Sub", ["one", "rows"], ["rows_off"]),
        n("Mul", ["rows_off", "big"], ["rows_pen"]),
        n("Add", ["row_idx", "rows_pen"], ["rows_cand"]),
        n("ReduceMin", ["rows_cand"], ["y1"], axes=[1, 2, 3], keepdims=0),
        n("Add", ["row_idx", "one"], ["row_end"]),
        n("Mul", ["rows", "row_end"], ["rows_end"]),
        n("ReduceMax", ["rows_end"], ["y2"], axes=[1, 2, 3], keepdims=0),
        n("ReduceMax", ["bright"], ["score"], axes=[1, 2, 3], keepdims=0),
        # no blob: x1 = BIG; clamp the box to 0 so it stays finite and small
        n("Mul", ["x1", "score"], ["x1s"]),
        n("Mul", ["y1", "score"], ["y1s"]),
        n("Add", ["x1s", "x2"], ["sx"]),
        n("Div", ["sx", "two"], ["cx"]),
        n("Add", ["y1s", "y2"], ["sy"]),
        n("Div", ["sy", "two"], ["cy"]),
        n("Sub", ["x2", "x1s"], ["w"]),
        n("Sub", ["y2", "y1s"], ["h"]),
    ]
    for name in ("cx", "cy", "w", "h", "score"):
        nodes.append(n("Reshape", [name, "shape_n11"], [f"{name}_r"]))
    nodes.append(n("Concat", ["cx_r", "cy_r", "w_r", "h_r", "score_r"], ["output0"], axis=1))
    graph = helper.make_graph(
        nodes,
        "blob_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 5, 1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgepost")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> int:
    out = Path(__file__).with_name("blob.onnx")
    data = build().SerializeToString()
    out.write_bytes(data)
    print(f"{out} sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
