"""What a manifest needs to know about an ONNX export, read from the file itself (nothing is downloaded).

    .venv/bin/python models/examples/yolov8n-coco/inspect_export.py yolov8n.onnx

Prints the file's sha256, its input and output names and shapes, and a ``labels:`` line built from the
class names ultralytics writes into the export's metadata (``names``), in class order. Paste them into
the manifest; check the result with ``edgepost model check``. Needs only onnxruntime (the box has it).
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path

import onnxruntime


def main(path: Path) -> int:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    print(f"file: {path.name}")
    print(f"sha256: {hashlib.sha256(path.read_bytes()).hexdigest()}")
    for kind, items in (("input", session.get_inputs()), ("output", session.get_outputs())):
        for item in items:
            shape = [d if isinstance(d, int) else -1 for d in item.shape]
            print(f"# {kind} {item.name}: {shape} {item.type}")
    names = session.get_modelmeta().custom_metadata_map.get("names")
    if names is None:
        print("# no class names in the file's metadata: write labels by hand, in the model's class order")
        return 0
    by_index = ast.literal_eval(names)  # ultralytics writes a Python dict {0: 'person', ...}
    labels = [str(by_index[i]) for i in sorted(by_index)]
    print("labels: [" + ", ".join(json.dumps(label) for label in labels) + "]")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
