"""MemoryDenyWriteExecute=yes in the unit is only safe if inference and OpenCV never map W+X memory.

The kernel's own W^X switch (prctl PR_SET_MDWE, Linux >= 6.3) enforces the same rule systemd's
seccomp filter does; we turn it on in a child process, prove it bites, then run the real ONNX model
from models/ and OpenCV's JPEG path under it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CHILD = r"""
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    print("NO_MDWE"); sys.exit(0)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("WX_ALLOWED"); sys.exit(1)
except OSError:
    pass
import numpy as np, onnxruntime as ort, cv2
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
spec = session.get_inputs()[0]
shape = [d if isinstance(d, int) else 1 for d in spec.shape]
dtype = np.float32 if "float" in spec.type else np.uint8
outputs = session.run(None, {spec.name: np.zeros(shape, dtype=dtype)})
ok, jpeg = cv2.imencode(".jpg", np.zeros((240, 320, 3), np.uint8))
print("OK", len(outputs), ok, len(jpeg))
"""


@pytest.mark.camera
def test_onnxruntime_and_opencv_run_under_write_xor_execute() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("cv2")
    models = sorted(ROOT.glob("models/*/*.onnx"))
    if not models:
        pytest.skip("no ONNX model in models/")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(models[0])], capture_output=True, text=True, timeout=120
    )
    if done.stdout.startswith("NO_MDWE"):
        pytest.skip("kernel without PR_SET_MDWE")
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert done.stdout.startswith("OK "), done.stdout
