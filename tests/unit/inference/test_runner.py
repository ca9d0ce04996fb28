"""ModelRunner on tiny real ONNX graphs with known outputs: decoders end to end, and load-time refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from drivers.camera.inference.errors import (
    BadFrame,
    ChecksumMismatch,
    InputShapeMismatch,
    ManifestError,
    ModelLoadFailed,
    OutputMismatch,
)
from drivers.camera.inference.manifest import load_manifest
from drivers.camera.inference.preprocess import preprocess
from drivers.camera.inference.runner import ModelRunner
from tests.unit.inference.graphs import (
    channel_mean_model,
    constant_outputs_model,
    manifest_dict,
    write_model,
)

YOLO_TABLE = np.array(
    [
        [32, 32, 32, 16, 0.9, 0.0],  # a: the middle of a 200x100 frame after letterboxing
        [8, 24, 4, 4, 0.0, 0.7],  # b: small box top-left of the image area
        [33, 32, 32, 16, 0.8, 0.0],  # a again, suppressed by NMS
    ],
    dtype=np.float32,
).T[np.newaxis]


def load(folder: Path, data: bytes, **kwargs: object) -> ModelRunner:
    return ModelRunner.load(load_manifest(write_model(folder, data, manifest_dict(data, **kwargs))))


def test_yolov8_model_boxes_come_back_in_original_frame_pixels(tmp_path: Path) -> None:
    runner = load(tmp_path, constant_outputs_model({"output0": YOLO_TABLE}))
    assert runner.batch_dynamic
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    (dets,) = runner.infer([frame], [runner.default_params()])
    assert [(d.label, round(d.score, 2)) for d in dets] == [("a", 0.9), ("b", 0.7)]
    assert (dets[0].x1, dets[0].y1, dets[0].x2, dets[0].y2) == pytest.approx((50, 25, 150, 75), abs=1e-4)
    # input (6..10, 22..26), pad 16 rows, scale 0.32 -> frame (18.75, 18.75)..(31.25, 31.25)
    assert (dets[1].x1, dets[1].y1, dets[1].x2, dets[1].y2) == pytest.approx((18.75, 18.75, 31.25, 31.25), abs=1e-4)


def test_batched_inference_matches_single(tmp_path: Path) -> None:
    runner = load(tmp_path, constant_outputs_model({"output0": YOLO_TABLE}))
    frames = [np.zeros((100, 200, 3), np.uint8), np.zeros((64, 64, 3), np.uint8), np.zeros((200, 100, 3), np.uint8)]
    batched = runner.infer(frames, [runner.default_params()] * 3)
    single = [runner.infer([f], [runner.default_params()])[0] for f in frames]
    assert batched == single
    assert batched[1][0].x1 == pytest.approx(16.0)  # 64x64 frame: no scaling, no padding


def test_ssd_model_with_named_outputs(tmp_path: Path) -> None:
    outputs = {
        "det_boxes": np.array([[[0.25, 0.5, 0.75, 1.0], [0, 0, 0.1, 0.1]]], dtype=np.float32),  # yxyx, 0..1
        "det_scores": np.array([[0.9, 0.1]], dtype=np.float32),
        "det_classes": np.array([[1.0, 0.0]], dtype=np.float32),
    }
    decoder = {
        "type": "ssd",
        "boxes": "det_boxes",
        "scores": "det_scores",
        "classes": "det_classes",
        "box_format": "yxyx",
        "normalized": True,
    }
    runner = load(tmp_path, constant_outputs_model(outputs), decoder=decoder)
    (dets,) = runner.infer([np.zeros((64, 128, 3), np.uint8)], [runner.default_params()])
    # yxyx 0..1 of 64x64 input -> x 32..64, y 16..48; letterbox 128x64 -> 64x32, pad_y 16, scale 0.5
    assert [(d.label, d.x1, d.y1, d.x2, d.y2) for d in dets] == [("b", 64.0, 0.0, 128.0, 64.0)]


@pytest.mark.parametrize(("color", "expected"), [("RGB", [-1.0, -1.0, 1.0]), ("BGR", [1.0, -1.0, -1.0])])
def test_colour_order_and_normalisation_reach_the_model_exactly(
    tmp_path: Path, color: str, expected: list[float]
) -> None:
    data = channel_mean_model(size=8)
    runner = load(
        tmp_path,
        data,
        size=8,
        decoder={"type": "classification", "top_k": 3},
        labels=["c0", "c1", "c2"],
        input={"color": color, "normalization": {"scale": 1 / 255, "mean": [0.5] * 3, "std": [0.5] * 3}},
    )
    blue = np.zeros((8, 8, 3), np.uint8)
    blue[:, :, 0] = 255  # BGR blue
    outputs = runner.run(preprocess(blue, runner.manifest.input)[0][np.newaxis])
    assert outputs["probs"][0].tolist() == pytest.approx(expected)
    (dets,) = runner.infer([blue], [runner.default_params(confidence=0.5)])
    assert [(d.label, d.score, d.x2, d.y2) for d in dets] == [(f"c{expected.index(1.0)}", 1.0, 8.0, 8.0)]


def test_nhwc_layout(tmp_path: Path) -> None:
    data = channel_mean_model(size=8, layout="NHWC")
    runner = load(
        tmp_path,
        data,
        decoder={"type": "classification"},
        labels=["r", "g", "b"],
        input={"shape": [-1, 8, 8, 3], "layout": "NHWC"},
    )
    green = np.zeros((16, 16, 3), np.uint8)
    green[:, :, 1] = 255
    (dets,) = runner.infer([green], [runner.default_params()])
    assert [(d.label, d.score) for d in dets] == [("g", 1.0)]


def test_uint8_input_skips_normalisation_and_pads_with_the_pad_value(tmp_path: Path) -> None:
    data = channel_mean_model(size=8, layout="NHWC", uint8=True)
    runner = load(
        tmp_path,
        data,
        decoder={"type": "classification", "top_k": 3},
        labels=["r", "g", "b"],
        input={"shape": [-1, 8, 8, 3], "layout": "NHWC", "dtype": "uint8", "letterbox": {"pad_value": 51}},
    )
    red = np.zeros((4, 8, 3), np.uint8)
    red[:, :, 2] = 255  # BGR red; letterboxed into rows 2..5 of 8, rows 0-1 and 6-7 padded with 51
    sample, _ = preprocess(red, runner.manifest.input)
    assert sample.dtype == np.uint8 and sample[0, 0].tolist() == [51, 51, 51] and sample[2, 0].tolist() == [255, 0, 0]
    (dets,) = runner.infer([red], [runner.default_params(confidence=0.01)])
    means = {d.label: d.score for d in dets}
    padded = 4 * 51 / 8 / 255  # half the rows are padding
    assert means == pytest.approx({"r": 4 * 255 / 8 / 255 + padded, "g": padded, "b": padded})


def test_sha256_mismatch_is_refused_naming_the_field(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": YOLO_TABLE})
    manifest = manifest_dict(data)
    manifest["sha256"] = "0" * 64
    path = write_model(tmp_path, data, manifest)
    with pytest.raises(ChecksumMismatch) as err:
        ModelRunner.load(load_manifest(path))
    assert f"{path}:3:1 sha256: manifest.yaml sha256 {'0' * 64} does not match model.onnx" in str(err.value)


def test_wrong_input_shape_is_refused_naming_input_shape(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": YOLO_TABLE}, size=64)
    manifest = manifest_dict(data, size=32)
    path = write_model(tmp_path, data, manifest)
    with pytest.raises(InputShapeMismatch) as err:
        ModelRunner.load(load_manifest(path))
    message = str(err.value)
    assert "input.shape: manifest input.shape [-1, 3, 32, 32] does not match" in message
    assert "'images' [?, 3, 64, 64]" in message and f"{path}:" in message


def test_fixed_batch_model_refuses_other_batch_and_runs_one_by_one(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": YOLO_TABLE}, batch=1)
    with pytest.raises(InputShapeMismatch):
        load(tmp_path / "two", data, input={"shape": [2, 3, 64, 64]})
    runner = load(tmp_path / "one", data, input={"shape": [1, 3, 64, 64]})
    assert not runner.batch_dynamic
    results = runner.infer([np.zeros((64, 64, 3), np.uint8)] * 3, [runner.default_params()] * 3)
    assert [len(r) for r in results] == [2, 2, 2]


def test_unknown_decoder_is_refused_naming_decoder(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": YOLO_TABLE})
    path = write_model(tmp_path, data, manifest_dict(data, decoder={"type": "yolov5"}))
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(err.value).startswith(f"{path}:")
    assert "decoder: unknown decoder 'yolov5', expected one of yolov8, ssd, classification" in str(err.value)


def test_manifest_field_errors_name_file_line_and_field(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": YOLO_TABLE})
    manifest = manifest_dict(data, input={"layout": "NCWH"})
    del manifest["licence"]
    path = write_model(tmp_path, data, manifest)
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    problems = err.value.problems
    assert any(p.startswith(f"{path}:") and "input.layout: Input should be 'NCHW' or 'NHWC'" in p for p in problems)
    assert any("licence: required key is missing" in p for p in problems)


def test_label_count_not_fitting_the_output_is_refused_at_load(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": YOLO_TABLE})
    wanted = re.escape("yolov8 wants output [1, 4+3, N] (3 labels), model gave [1, 6, 3]")
    with pytest.raises(OutputMismatch, match=wanted):
        load(tmp_path, data, labels=["a", "b", "c"])


def test_missing_output_name_is_refused(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": YOLO_TABLE})
    with pytest.raises(OutputMismatch, match=r"decoder.output: the model has no output 'boxes'"):
        load(tmp_path, data, decoder={"type": "yolov8", "output": "boxes"})


def test_corrupt_file_with_matching_sha_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadFailed, match=r"onnxruntime cannot load model\.onnx"):
        load(tmp_path, b"not an onnx file")


def test_bad_frames_are_refused(tmp_path: Path) -> None:
    runner = load(tmp_path, constant_outputs_model({"output0": YOLO_TABLE}))
    for frame in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8)):
        with pytest.raises(BadFrame):
            runner.infer([frame], [runner.default_params()])
