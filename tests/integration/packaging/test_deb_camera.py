"""edgepost-camera built for real and checked like edgepost (test_deb.py), then installed with edgepost
in the dpkg sandbox: the camera libraries import through the venv's .pth file and every shipped model
passes `edgepost model check` on the installed system.

~300 MB installed, and lintian alone takes minutes on it: run by `make test-deb-camera`
(EDGEPOST_TEST_CAMERA_DEB=1), not by `make test`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.packaging.conftest import build_debs
from tests.integration.packaging.debcheck import (
    field,
    files_of,
    lintian,
    md5sums_problems,
    newest_glibc_symbol,
    uncovered_by_copyright,
)

HERE = Path(__file__).resolve().parent
MODELS = HERE.parents[2] / "models"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(7200),
    pytest.mark.skipif(
        os.environ.get("EDGEPOST_TEST_CAMERA_DEB") != "1", reason="camera package: make test-deb-camera"
    ),
]


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = build_debs(tmp_path_factory.mktemp("deb"), camera=True)
    assert set(built) == {"edgepost", "edgepost-camera"}, built
    return built


@pytest.fixture(scope="module")
def unpacked(debs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(debs["edgepost-camera"]), str(root)], check=True, timeout=600)
    return root


@pytest.fixture(scope="module")
def control(debs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("control")
    subprocess.run(["dpkg-deb", "-e", str(debs["edgepost-camera"]), str(folder)], check=True, timeout=120)
    return folder


def test_control_fields(debs: dict[str, Path]) -> None:
    camera = debs["edgepost-camera"]
    depends = [d.strip() for d in field(camera, "Depends").split(",")]
    assert f"edgepost (= {field(debs['edgepost'], 'Version')})" in depends, depends
    assert [d for d in depends if d.startswith("libc6")] == ["libc6 (>= 2.28)"], depends
    assert field(camera, "Version") == field(debs["edgepost"], "Version")


def test_contents(unpacked: Path) -> None:
    site = unpacked / "opt/edgepost-camera/lib/python3.11/site-packages"
    for top in ("cv2", "numpy", "onnxruntime", "numpy.libs", "opencv_python_headless.libs"):
        assert (site / top).is_dir(), top
    pth = unpacked / "opt/edgepost/lib/python3.11/site-packages/edgepost-camera.pth"
    assert pth.read_text().split() == ["/opt/edgepost-camera/lib/python3.11/site-packages"]
    names = files_of(unpacked)
    assert not any("__pycache__" in n for n in names)
    assert not any(n.startswith("opt/edgepost-camera/lib/python3.11/site-packages/bin/") for n in names)


def test_every_shipped_manifest_has_its_file(unpacked: Path) -> None:
    shipped = unpacked / "usr/share/edgepost/models"
    manifests = sorted(shipped.glob("*/manifest.yaml"))
    assert [m.parent.name for m in manifests] == sorted(m.parent.name for m in MODELS.glob("*/manifest.yaml"))
    for manifest in manifests:
        file = re.search(r"^file:\s*(\S+)", manifest.read_text(), re.MULTILINE)
        assert file and not file.group(1).startswith("pkg:"), manifest
        assert (manifest.parent / file.group(1)).is_file(), manifest
    licence = (shipped / "text-direction" / "LICENSE").read_text()
    assert "Apache-2.0" in licence and "rapidocr_onnxruntime-1.4.4" in licence


def test_md5sums_cover_every_file(unpacked: Path, control: Path) -> None:
    assert md5sums_problems(unpacked, control) == []


def test_copyright_covers_every_wheel_and_embedded_library(unpacked: Path) -> None:
    text = (unpacked / "usr/share/doc/edgepost-camera/copyright").read_text()
    uncovered = uncovered_by_copyright(unpacked, text)
    assert not uncovered, "no copyright stanza of their own: " + ", ".join(uncovered)
    libs = [n for n in files_of(unpacked) if ".libs/" in n]
    assert len(libs) >= 10, libs  # the check above did look at the embedded libraries


def test_no_binary_needs_a_glibc_newer_than_depends_says(unpacked: Path) -> None:
    major, minor, name = newest_glibc_symbol(unpacked)
    assert (2, 17) <= (major, minor) <= (2, 28), f"{name} needs GLIBC_{major}.{minor}"


def test_lintian_is_clean(debs: dict[str, Path]) -> None:
    assert lintian(debs["edgepost-camera"]) == []


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
def test_installed_with_edgepost_the_models_check(debs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", str(HERE / "dpkg_sandbox.sh"),
         str(out), "camera", str(debs["edgepost"]), str(debs["edgepost-camera"])],
        capture_output=True, text=True, timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert results["camera.install.rc"] == "0", results["camera.install.log"]
    assert results["camera.imports"] == "/opt/edgepost-camera/lib/python3.11/site-packages/cv2/__init__.py"
    for model in ("blob-detector", "text-direction"):
        assert results[f"camera.model.{model}"] == "0", results[f"camera.model.{model}.out"]
    assert int(results["camera.pycache"]) > 100
    assert results["camera.verify"] == ""
    assert results["camera.remove.rc"] == "0" and results["camera.remove.leftover"] == ""
    assert results["camera.after_remove.imports"] != "0"  # the camera libraries left with the package
    assert results["camera.after_remove.version"].startswith("edgepost ")
