"""Build the .deb for real, inspect it with dpkg-deb, unpack it and run edgepost from the unpacked tree.

The package is built sensor-only (EXTRAS="": no onnxruntime/OpenCV) with gzip to stay within a few
minutes on a loaded machine; the mechanism (venv, offline wheelhouse install, shebang rewrite,
maintainer scripts) is the same as the camera build `make deb` does. Wheels are cached in
build/wheelhouse between runs.

How the unpacked tree runs: ``<root>/opt/edgepost/bin/python`` is a symlink to /usr/bin/python3.11
and finds ``<root>/opt/edgepost/pyvenv.cfg`` beside it, so it uses the unpacked site-packages; we run
the packaged console script ``<root>/opt/edgepost/bin/edgepost`` with it (its shebang names
/opt/edgepost, where it will live once installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        shutil.which("dpkg-deb") is None or not Path("/usr/bin/python3.11").exists(),
        reason="needs dpkg-deb and /usr/bin/python3.11",
    ),
]


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("deb")
    env = {
        **os.environ,
        "EXTRAS": "",
        "DEB_COMPRESS": "gzip",
        "BUILD_DIR": str(work / "build"),
        "OUT_DIR": str(work / "dist"),
        "WHEELHOUSE": str(ROOT / "build" / "wheelhouse"),
    }
    done = subprocess.run(
        ["bash", str(ROOT / "packaging" / "build_deb.sh")], env=env, capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.suffix == ".deb"
    yield path


@pytest.fixture(scope="module")
def unpacked(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
    return root


def dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], check=True, capture_output=True, text=True, timeout=120).stdout


def test_contents(deb: Path) -> None:
    listing = dpkg_deb("-c", str(deb))
    names = {line.split()[-1] if " -> " not in line else line.split()[-3] for line in listing.splitlines()}
    for required in (
        "./opt/edgepost/bin/edgepost",
        "./opt/edgepost/pyvenv.cfg",
        "./lib/systemd/system/edgepost.service",
        "./etc/edgepost/config.yaml",
        "./usr/bin/edgepost",
    ):
        assert required in names, required
    assert any(n.startswith("./opt/edgepost/lib/python3.11/site-packages/agent/cli/main.py") for n in names)
    assert any(n.startswith("./opt/edgepost/lib/python3.11/site-packages/pymodbus/") for n in names)
    assert any(n.startswith("./usr/share/edgepost/firmware_profiles/") and n.endswith(".yaml") for n in names)
    assert "./usr/bin/edgepost -> /opt/edgepost/bin/edgepost" in listing
    assert "./opt/edgepost/lib/python3.11/site-packages/models -> /usr/share/edgepost/models" in listing
    assert any(n.startswith("./usr/share/edgepost/models/") and n.endswith("manifest.yaml") for n in names)
    # no installer in the shipped venv: nothing gets pip-installed on the box
    assert not any("/site-packages/pip/" in n for n in names)
    assert "./opt/edgepost/bin/pip" not in names


def test_control_and_maintainer_scripts(deb: Path) -> None:
    info = dpkg_deb("-I", str(deb))
    assert "Package: edgepost" in info and "Depends: python3.11" in info
    assert dpkg_deb("-f", str(deb), "Version").strip() == "0.1.0"
    control_dir = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True, check=True).stdout.strip())
    try:
        subprocess.run(["dpkg-deb", "-e", str(deb), str(control_dir)], check=True, timeout=60)
        assert (control_dir / "conffiles").read_text().split() == ["/etc/edgepost/config.yaml"]
        for script in ("postinst", "prerm", "postrm"):
            packaged = control_dir / script
            assert packaged.read_bytes() == (ROOT / "packaging" / "debian" / script).read_bytes()
            assert packaged.stat().st_mode & 0o755 == 0o755
    finally:
        shutil.rmtree(control_dir)


def test_config_is_root_owned_and_private(deb: Path) -> None:
    listing = dpkg_deb("-c", str(deb))
    line = next(entry for entry in listing.splitlines() if entry.endswith("./etc/edgepost/config.yaml"))
    assert line.startswith("-rw-r----- root/root")


def run_unpacked(root: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "EDGEPOST"))}
    env.update(extra_env)
    return subprocess.run(
        [str(root / "opt/edgepost/bin/python"), str(root / "opt/edgepost/bin/edgepost"), *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=root,
    )


def test_unpacked_edgepost_runs_from_its_own_tree(unpacked: Path) -> None:
    assert (unpacked / "opt/edgepost/bin/edgepost").read_text().startswith("#!/opt/edgepost/bin/python\n")
    done = run_unpacked(unpacked, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "edgepost 0.1.0"
    where = subprocess.run(
        [str(unpacked / "opt/edgepost/bin/python"), "-c", "import agent, pymodbus; print(agent.__file__)"],
        capture_output=True, text=True, timeout=60, cwd="/",
    )
    assert where.stdout.strip().startswith(str(unpacked / "opt/edgepost/lib/python3.11/site-packages/"))


def test_unpacked_config_validate(unpacked: Path, tmp_path: Path) -> None:
    config = unpacked / "etc/edgepost/config.yaml"
    done = run_unpacked(unpacked, "config", "validate", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("valid (0 driver(s), gateway edgepost-unconfigured)")
    modbus = tmp_path / "modbus.yaml"
    modbus.write_text(
        "gateway: {id: pole-1}\n"
        "drivers:\n"
        "  - driver: modbus\n"
        "    name: rs485\n"
        "    buses: [{transport: serial, name: bus1, port: /dev/ttyUSB0}]\n"
        "    devices: [{name: m1, bus: bus1, unit_id: 300, profile: eastron/sdm120}]\n"
    )
    bad = run_unpacked(unpacked, "config", "validate", str(modbus))
    assert bad.returncode == 2
    assert f"{modbus}:6:" in bad.stdout and "unit_id" in bad.stdout and "Traceback" not in bad.stderr


def test_bundle_wheelhouse_is_pinned(unpacked: Path) -> None:
    installed = (unpacked / "usr/share/doc/edgepost/installed-wheels.txt").read_text().split()
    pins = (ROOT / "requirements.lock").read_text().split()
    lock = {line.split("==")[0].lower().replace("_", "-"): line for line in pins}
    for requirement in installed:
        name = requirement.split("==")[0].lower().replace("_", "-")
        if name in lock:
            assert requirement.lower().replace("_", "-") == lock[name].lower().replace("_", "-"), requirement


def test_tarball_members_are_not_world_writable(deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, stdout=(tmp_path / "fs.tar").open("wb"))
    with tarfile.open(tmp_path / "fs.tar") as tar:
        bad = [m.name for m in tar.getmembers() if not m.issym() and m.mode & 0o002]
    assert bad == []


def test_unpacked_profiles_load(unpacked: Path) -> None:
    """The shipped profiles (installed at /usr/share/edgepost) load with the packaged code."""
    profiles = unpacked / "usr/share/edgepost/firmware_profiles"
    done = run_unpacked(unpacked, "--json", "profile", "list", EDGEPOST_PROFILE_DIR=str(profiles))
    assert done.returncode == 0, done.stderr
    assert "eastron/sdm120" in done.stdout
