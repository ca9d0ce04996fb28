"""The edgepost .deb built for real (debhelper + dh-virtualenv, sensor-only as in CI), unpacked with
dpkg-deb -x and checked the way Debian and an operator would: control fields, contents, md5sums,
copyright, changelog, lintian, and the packaged edgepost run from the unpacked tree.

The unpacked tree runs because ``<root>/opt/edgepost/bin/python`` is a symlink to /usr/bin/python3.11
that finds ``<root>/opt/edgepost/pyvenv.cfg`` beside it; the packaged console script is run with it
(its shebang names /opt/edgepost, where it lives once installed). Installing it for real, with its
maintainer scripts, is test_deb_sandbox.py.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from tests.integration.packaging.debcheck import (
    dpkg_deb,
    field,
    files_of,
    lintian,
    md5sums_problems,
    newest_glibc_symbol,
    uncovered_by_copyright,
)

ROOT = Path(__file__).resolve().parents[3]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def unpacked(sensor_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(sensor_deb), str(root)], check=True, timeout=300)
    return root


@pytest.fixture(scope="module")
def control(sensor_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("control")
    subprocess.run(["dpkg-deb", "-e", str(sensor_deb), str(folder)], check=True, timeout=120)
    return folder


def test_version_has_a_debian_revision_and_the_changelog_says_it(sensor_deb: Path, unpacked: Path) -> None:
    version = field(sensor_deb, "Version")
    assert re.fullmatch(rf"{re.escape(VERSION)}-\d+", version), version
    changelog = gzip.decompress((unpacked / "usr/share/doc/edgepost/changelog.Debian.gz").read_bytes()).decode()
    assert changelog.startswith(f"edgepost ({version}) "), changelog[:80]
    assert re.search(r"^ -- .+ <.+>  \w{3}, \d{2} \w{3} \d{4} ", changelog, re.MULTILINE)


def test_control_fields(sensor_deb: Path) -> None:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    assert field(sensor_deb, "Package") == "edgepost"
    assert field(sensor_deb, "Architecture") == arch
    depends = [d.strip() for d in field(sensor_deb, "Depends").split(",")]
    assert "libc6 (>= 2.28)" in depends, depends
    assert [d for d in depends if d.startswith("libc6")] == ["libc6 (>= 2.28)"], depends
    assert "python3.11" in depends and any(d.startswith("systemd") for d in depends), depends
    assert field(sensor_deb, "Section") == "net"
    assert field(sensor_deb, "Suggests") == "edgepost-camera"
    assert int(field(sensor_deb, "Installed-Size")) > 1000


def test_no_binary_needs_a_glibc_newer_than_depends_says(unpacked: Path) -> None:
    """Depends: libc6 (>= 2.28) holds: no ELF file in the package uses a newer glibc symbol."""
    major, minor, name = newest_glibc_symbol(unpacked)
    assert (major, minor) >= (2, 2), "no ELF file found: the check would prove nothing"
    assert (major, minor) <= (2, 28), f"{name} needs GLIBC_{major}.{minor}"


def test_contents(sensor_deb: Path, unpacked: Path) -> None:
    listing = dpkg_deb("-c", str(sensor_deb))
    for required in (
        "opt/edgepost/bin/edgepost",
        "opt/edgepost/pyvenv.cfg",
        "opt/edgepost/lib/python3.11/site-packages/agent/cli/main.py",
        "lib/systemd/system/edgepost.service",
        "usr/lib/sysusers.d/edgepost.conf",
        "etc/edgepost/config.yaml",
        "usr/share/doc/edgepost/copyright",
        "usr/share/doc/edgepost/installed-wheels.txt",
        "usr/share/man/man1/edgepost.1.gz",
        "usr/share/edgepost/firmware_profiles/eastron/sdm120.yaml",
    ):
        assert (unpacked / required).is_file(), required
    for folder in ("etc/edgepost/conf.d", "etc/edgepost/profiles"):
        assert (unpacked / folder).is_dir(), folder
    assert os.readlink(unpacked / "usr/bin/edgepost") == "/opt/edgepost/bin/edgepost"
    assert os.readlink(unpacked / "opt/edgepost/bin/python3.11") == "/usr/bin/python3.11"
    names = files_of(unpacked)
    site = "opt/edgepost/lib/python3.11/site-packages/"
    # build tools and byte-code stay out: the box installs nothing, the postinst compiles
    for absent in ("pip/", "setuptools/", "wheel/", "_distutils_hack/"):
        assert not any(n.startswith(site + absent) for n in names), absent
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith("usr/share/edgepost/models") for n in names), "models belong to edgepost-camera"
    # a sensor-only pole carries no camera libraries
    assert not any(n.startswith(site + top) for n in names for top in ("numpy", "cv2", "onnxruntime"))
    assert "command" not in (unpacked / "opt/edgepost/pyvenv.cfg").read_text()  # the build path
    line = next(entry for entry in listing.splitlines() if entry.endswith("./etc/edgepost/config.yaml"))
    assert line.startswith("-rw-r----- root/root"), line
    for folder in ("./etc/edgepost/", "./etc/edgepost/conf.d/", "./etc/edgepost/profiles/"):
        line = next(entry for entry in listing.splitlines() if entry.endswith(folder))
        assert line.startswith("drwxr-x--- root/root"), line


def test_sensor_package_size(sensor_deb: Path) -> None:
    """About 8 MB: a sensor-only pole does not carry the 300 MB of camera libraries."""
    assert sensor_deb.stat().st_size < 12 * 1024 * 1024, sensor_deb.stat().st_size


def test_md5sums_cover_every_file(unpacked: Path, control: Path) -> None:
    assert md5sums_problems(unpacked, control) == []
    assert len((control / "md5sums").read_text().splitlines()) > 500


def test_conffiles_are_the_config_only(control: Path) -> None:
    assert (control / "conffiles").read_text().split() == ["/etc/edgepost/config.yaml"]


def test_copyright_covers_every_bundled_wheel(unpacked: Path) -> None:
    text = (unpacked / "usr/share/doc/edgepost/copyright").read_text()
    assert text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
    uncovered = uncovered_by_copyright(unpacked, text)
    assert not uncovered, "no copyright stanza of their own: " + ", ".join(uncovered)


def test_copyright_check_would_catch_a_missing_stanza(unpacked: Path) -> None:
    text = (unpacked / "usr/share/doc/edgepost/copyright").read_text()
    without = re.sub(r"Files: \S+/pymodbus/\*.*?\n\n", "", text, flags=re.DOTALL)
    assert without != text
    site = "opt/edgepost/lib/python3.11/site-packages/"
    uncovered = uncovered_by_copyright(unpacked, without)
    assert uncovered[0] == f"{site}pymodbus" and len(uncovered) == 2, uncovered
    assert re.fullmatch(rf"{site}pymodbus-[0-9.]+\.dist-info", uncovered[1]), uncovered


def test_maintainer_scripts_come_from_debhelper(control: Path) -> None:
    postinst = (control / "postinst").read_text()
    assert "deb-systemd-helper --quiet was-enabled 'edgepost.service'" in postinst
    assert "deb-systemd-invoke try-restart 'edgepost.service'" in postinst
    assert "systemd-sysusers" in postinst
    assert "systemctl enable" not in postinst and "systemctl restart" not in postinst
    assert not (control / "preinst").exists() or "stop" not in (control / "preinst").read_text()
    for script in ("postinst", "prerm", "postrm"):
        done = subprocess.run(["sh", "-n", str(control / script)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{script}: {done.stderr}"


def test_lintian_is_clean(sensor_deb: Path) -> None:
    """Nothing lintian finds is left: each exception is justified in debian/edgepost.lintian-overrides."""
    assert lintian(sensor_deb) == []


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
    assert done.stdout.strip() == f"edgepost {VERSION}"
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


def test_bundled_wheels_are_the_pinned_ones(unpacked: Path) -> None:
    installed = (unpacked / "usr/share/doc/edgepost/installed-wheels.txt").read_text().split()
    assert any(line.startswith("pymodbus==") for line in installed), installed
    pins = (ROOT / "requirements.lock").read_text().split()
    lock = {line.split("==")[0].lower().replace("_", "-"): line for line in pins}
    for requirement in installed:
        name = requirement.split("==")[0].lower().replace("_", "-")
        if name in lock:
            assert requirement.lower().replace("_", "-") == lock[name].lower().replace("_", "-"), requirement


def test_tarball_members_are_not_world_writable(sensor_deb: Path, tmp_path: Path) -> None:
    with (tmp_path / "fs.tar").open("wb") as out:
        subprocess.run(["dpkg-deb", "--fsys-tarfile", str(sensor_deb)], check=True, stdout=out)
    with tarfile.open(tmp_path / "fs.tar") as tar:
        bad = [m.name for m in tar.getmembers() if not m.issym() and m.mode & 0o002]
    assert bad == []


def test_unpacked_profiles_load(unpacked: Path) -> None:
    """The shipped profiles (installed at /usr/share/edgepost) load with the packaged code."""
    profiles = unpacked / "usr/share/edgepost/firmware_profiles"
    done = run_unpacked(unpacked, "--json", "profile", "list", EDGEPOST_PROFILE_DIR=str(profiles))
    assert done.returncode == 0, done.stderr
    assert "eastron/sdm120" in done.stdout
