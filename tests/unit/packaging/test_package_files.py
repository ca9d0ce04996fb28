"""The default config, the maintainer scripts and the deb control template."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.config import load_config

ROOT = Path(__file__).resolve().parents[3]
DEBIAN = ROOT / "packaging" / "debian"


def test_default_config_is_valid() -> None:
    config = load_config(ROOT / "packaging" / "config.yaml")
    assert config.control.socket == Path("/run/edgepost/control.sock")
    assert config.control.group == "edgepost"
    assert config.state_dir == Path("/var/lib/edgepost")
    assert main(["config", "validate", str(ROOT / "packaging" / "config.yaml")]) == 0


@pytest.mark.parametrize("script", ["postinst", "prerm", "postrm"])
def test_maintainer_scripts_are_valid_sh(script: str) -> None:
    path = DEBIAN / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    assert path.read_text().startswith("#!/bin/sh\n")
    done = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True, timeout=60)
        assert lint.returncode == 0, lint.stdout


def test_unknown_maintainer_argument_fails() -> None:
    for script in ("postinst", "prerm", "postrm"):
        done = subprocess.run(["sh", str(DEBIAN / script), "bogus"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 1 and "unknown argument" in done.stderr


def test_postinst_creates_a_system_user() -> None:
    text = (DEBIAN / "postinst").read_text()
    assert "adduser --system" in text and "--ingroup edgepost" in text
    assert "chmod 0640 /etc/edgepost/config.yaml" in text


def test_conffiles_and_control_template() -> None:
    assert (DEBIAN / "conffiles").read_text().split() == ["/etc/edgepost/config.yaml"]
    control = (DEBIAN / "control").read_text()
    for field in ("Package: edgepost", "Version: @VERSION@", "Architecture: @ARCH@", "Depends: python3.11"):
        assert field in control
