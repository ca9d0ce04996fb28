"""The package's sources: default config, debian/ (control, changelog, maintainer scripts) and the
pinned build tools. The built package itself is checked in tests/integration/packaging/."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.config import load_config

ROOT = Path(__file__).resolve().parents[3]
DEBIAN = ROOT / "debian"
SCRIPTS = sorted(p.name for p in DEBIAN.glob("*.p*") if p.suffix in {".postinst", ".prerm", ".postrm", ".preinst"})


def test_default_config_is_valid() -> None:
    config = load_config(ROOT / "packaging" / "config.yaml")
    assert config.control.socket == Path("/run/edgepost/control.sock")
    assert config.control.group == "edgepost"
    assert config.state_dir == Path("/var/lib/edgepost")
    assert main(["config", "validate", str(ROOT / "packaging" / "config.yaml")]) == 0


def test_default_config_tells_about_drop_ins_and_site_profiles() -> None:
    text = (ROOT / "packaging" / "config.yaml").read_text()
    assert "/etc/edgepost/conf.d/*.yaml" in text and "/etc/edgepost/profiles" in text


def test_every_package_has_its_scripts() -> None:
    assert SCRIPTS == [
        "edgepost-camera.postinst", "edgepost-camera.postrm", "edgepost-camera.prerm",
        "edgepost.postinst", "edgepost.postrm", "edgepost.prerm",
    ]


@pytest.mark.parametrize("script", SCRIPTS)
def test_maintainer_scripts_are_valid_sh_with_one_debhelper_marker(script: str) -> None:
    path = DEBIAN / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    text = path.read_text()
    assert text.startswith("#!/bin/sh\n") and "\nset -e\n" in text
    # debhelper replaces every occurrence, comments included
    assert text.count("#DEBHELPER#") == 1 and "\n#DEBHELPER#\n" in text
    done = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True, timeout=60)
        assert lint.returncode == 0, lint.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_unknown_maintainer_argument_fails(script: str) -> None:
    done = subprocess.run(["sh", str(DEBIAN / script), "bogus"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "unknown argument" in done.stderr


def test_config_group_is_set_on_first_install_only() -> None:
    text = (DEBIAN / "edgepost.postinst").read_text()
    first_install = text[text.index('if [ "$1" = configure ] && [ -z "$2" ]; then'):]
    assert "give_config_to_group" in first_install
    assert text.count("give_config_to_group") == 2  # defined once, called once: under that condition
    assert "chmod" not in text  # modes come from the package; an upgrade changes none


def test_control() -> None:
    control = (DEBIAN / "control").read_text()
    assert re.search(r"^Build-Depends:.*dh-virtualenv \(>= 1\.2\.2\)", control, re.MULTILINE | re.DOTALL)
    packages = re.findall(r"^Package: (\S+)", control, re.MULTILINE)
    assert packages == ["edgepost", "edgepost-camera"]
    camera = control[control.index("Package: edgepost-camera"):]
    assert "edgepost (= ${binary:Version})" in camera
    assert "Build-Profiles: <!pkg.edgepost.nocamera>" in camera
    for stanza in control.split("\n\nPackage: ")[1:]:
        assert "libc6 (>= 2.28)" in stanza


def test_changelog_version_is_pyproject_plus_a_debian_revision() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    first = (DEBIAN / "changelog").read_text().splitlines()[0]
    assert re.fullmatch(rf"edgepost \({re.escape(version)}-\d+\) \w+; urgency=\w+", first), first


def test_build_tools_are_pinned_with_hashes() -> None:
    for name in ("build-tools.txt", "model-files.txt"):
        lines = [ln for ln in (ROOT / "packaging" / name).read_text().splitlines() if ln and not ln.startswith("#")]
        assert lines
        for line in lines:
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^ ]* --hash=sha256:[0-9a-f]{64}", line), line
