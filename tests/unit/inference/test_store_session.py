"""Finding models on disk, and the onnxruntime session options / provider choice."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from drivers.camera.inference import session as session_module
from drivers.camera.inference.errors import ModelNotFound
from drivers.camera.inference.session import SessionSettings, choose_providers, create_session
from drivers.camera.inference.store import find_manifest
from tests.unit.inference.graphs import constant_outputs_model, manifest_dict, write_model

TABLE = np.array([[32, 32, 8, 8, 0.9, 0.0]], dtype=np.float32).T[np.newaxis]


def test_find_manifest_by_name_folder_or_file_and_current_wins(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": TABLE})
    base = write_model(tmp_path / "m", data, manifest_dict(data, name="m"))
    assert find_manifest("m", tmp_path) == base
    assert find_manifest(str(tmp_path / "m"), None) == base
    assert find_manifest(str(base)) == base
    updated = write_model(tmp_path / "m" / "versions" / "v2", data, manifest_dict(data, name="m"))
    (tmp_path / "m" / "current").symlink_to("versions/v2")
    assert find_manifest("m", tmp_path) == tmp_path / "m" / "current" / "manifest.yaml"
    assert (tmp_path / "m" / "current" / "manifest.yaml").resolve() == updated.resolve()


def test_configured_dir_is_searched_before_the_shipped_models(tmp_path: Path) -> None:
    data = constant_outputs_model({"output0": TABLE})
    mine = write_model(tmp_path / "blob-detector", data, manifest_dict(data, name="blob-detector"))
    assert find_manifest("blob-detector", tmp_path) == mine
    assert find_manifest("blob-detector").parts[-2:] == ("blob-detector", "manifest.yaml")


def test_missing_model_names_the_dirs_searched(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=f"model 'ghost' not found .*{tmp_path}"):
        find_manifest("ghost", tmp_path)
    with pytest.raises(ModelNotFound, match=r"no manifest\.yaml in this folder"):
        find_manifest(str(tmp_path))


def test_unavailable_providers_are_skipped_with_one_log_line(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "_skipped_logged", set())
    wanted = ["OpenVINOExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    with caplog.at_level(logging.WARNING):
        assert choose_providers(wanted, available=["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
        assert choose_providers(wanted, available=["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    skipped = [r.getMessage() for r in caplog.records if "inference_provider_skipped" in r.getMessage()]
    assert len(skipped) == 2  # one per provider, not one per session
    assert "provider=OpenVINOExecutionProvider" in skipped[0]
    available = ["OpenVINOExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(["OpenVINOExecutionProvider"], available=available) == available


@pytest.mark.parametrize("level", ["disabled", "basic", "extended", "all"])
def test_sessions_build_with_every_optimisation_level(level: str) -> None:
    data = constant_outputs_model({"output0": TABLE})
    session = create_session(data, SessionSettings(intra_op_threads=1, graph_optimization=level))  # type: ignore[arg-type]
    (out,) = session.run(None, {"images": np.zeros((2, 3, 64, 64), np.float32)})
    assert out.shape == (2, 6, 1)
