"""The .debs, built for real once per session by packaging/build_deb.sh (what `make deb` runs).

CI builds edgepost alone (CAMERA=0, a few minutes with gzip); the wheels are cached in
build/wheelhouse (the repo's build cache, not in git), so a fresh machine downloads them once.
edgepost-camera (~300 MB installed) is built by test_deb_camera.py under `make test-deb-camera`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WHEELHOUSE = ROOT / "build" / "wheelhouse"
BUILD_TOOLS = ("dpkg-buildpackage", "dh", "dh_virtualenv", "dpkg-deb")


def missing_build_tools() -> list[str]:
    missing = [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]
    if not Path("/usr/lib/python3.11/ensurepip").is_dir():
        missing.append("python3.11-venv")
    return missing


def build_debs(work: Path, camera: bool) -> dict[str, Path]:
    """Package name -> .deb path."""
    if missing := missing_build_tools():
        pytest.skip(f"needs {', '.join(missing)} (make apt-deps)")
    env = {
        **os.environ,
        "CAMERA": "1" if camera else "0",
        "BUILD_DIR": str(work / "build"),
        "OUT_DIR": str(work / "dist"),
        "WHEELHOUSE": str(WHEELHOUSE),
    }
    done = subprocess.run(
        ["bash", str(ROOT / "packaging" / "build_deb.sh")], env=env, capture_output=True, text=True, timeout=3000
    )
    assert done.returncode == 0, done.stderr[-4000:]
    debs = [Path(line) for line in done.stdout.split()]
    assert debs and all(d.is_file() and d.suffix == ".deb" for d in debs), done.stdout
    return {d.name.split("_")[0]: d for d in debs}


def later_version(deb: Path, work: Path, suffix: str = "+upgrade1") -> Path:
    """The same package under a later version: what an upgrade installs (scripts and files alike)."""
    tree = work / "repack"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True, timeout=300)
    control = tree / "DEBIAN" / "control"
    lines = control.read_text().splitlines()
    control.write_text("".join(f"{line}{suffix}\n" if line.startswith("Version: ") else f"{line}\n" for line in lines))
    out = work / deb.name.replace(".deb", f"{suffix}.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "-b", str(tree), str(out)],
                   check=True, capture_output=True, timeout=600)
    shutil.rmtree(tree)
    return out


@pytest.fixture(scope="session")
def sensor_debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_debs(tmp_path_factory.mktemp("deb"), camera=False)


@pytest.fixture(scope="session")
def sensor_deb(sensor_debs: dict[str, Path]) -> Path:
    assert set(sensor_debs) == {"edgepost"}, sensor_debs
    return sensor_debs["edgepost"]
