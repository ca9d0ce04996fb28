"""Property: a box placed into the input by the letterbox comes back to the same frame pixels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.camera.inference.manifest import InputSpec
from drivers.camera.inference.preprocess import preprocess


@settings(max_examples=60, deadline=None)
@given(
    frame_w=st.integers(8, 400),
    frame_h=st.integers(8, 400),
    in_w=st.integers(16, 320),
    in_h=st.integers(16, 320),
    anchor=st.sampled_from(["center", "top_left"]),
    fit=st.sampled_from(["contain", "height"]),
    enabled=st.booleans(),
    fractions=st.tuples(*(st.floats(0.0, 1.0) for _ in range(4))),
)
def test_input_box_maps_back_to_the_frame_box(
    frame_w: int,
    frame_h: int,
    in_w: int,
    in_h: int,
    anchor: str,
    fit: str,
    enabled: bool,
    fractions: tuple[float, float, float, float],
) -> None:
    spec = InputSpec(shape=(1, 3, in_h, in_w), letterbox={"enabled": enabled, "anchor": anchor, "fit": fit})
    tensor, transform = preprocess(np.zeros((frame_h, frame_w, 3), np.uint8), spec)
    assert tensor.shape == (3, in_h, in_w)
    # the image area lies inside the input
    assert transform.pad_x >= 0 and transform.pad_x + frame_w * transform.scale_x <= in_w + 1e-6
    assert transform.pad_y >= 0 and transform.pad_y + frame_h * transform.scale_y <= in_h + 1e-6
    fx1, fx2 = sorted((fractions[0] * frame_w, fractions[1] * frame_w))
    fy1, fy2 = sorted((fractions[2] * frame_h, fractions[3] * frame_h))
    placed = np.array(
        [[
            fx1 * transform.scale_x + transform.pad_x,
            fy1 * transform.scale_y + transform.pad_y,
            fx2 * transform.scale_x + transform.pad_x,
            fy2 * transform.scale_y + transform.pad_y,
        ]],
        dtype=np.float32,
    )
    back = transform.to_frame(placed)[0]
    assert back.tolist() == pytest.approx([fx1, fy1, fx2, fy2], abs=1e-3 * max(frame_w, frame_h))
