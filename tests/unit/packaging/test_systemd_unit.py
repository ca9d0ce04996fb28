"""packaging/edgepost.service: systemd's own checks (verify, offline security score) and our must-haves."""

from __future__ import annotations

import re
import shutil
import subprocess
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "packaging" / "edgepost.service"

# The exposure score systemd-analyze gives the unit (0 = locked down, 10 = unprotected); it was 1.6
# when written. What keeps it above ~1.0 is needed by the job, not forgotten: network access for
# MQTT (PrivateNetwork, IPAddressDeny, AF_INET*), serial and video devices (PrivateDevices,
# DeviceAllow, SupplementaryGroups=dialout video; PrivateUsers would hide those groups), the
# host's root (no image), group-readable files (UMask=0027, for the edgepost group's CLI), full /proc
# for psutil (ProcSubset), and @resources syscalls (onnxruntime threads set affinity).
# 2.0 leaves room for one such trade-off more, and fails on any real regression.
MAX_EXPOSURE = 2.0

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def unit_settings() -> dict[str, list[str]]:
    parser = ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    settings: dict[str, list[str]] = {}
    # ConfigParser keeps the last of repeated keys; collect repeats (DeviceAllow=) by hand instead
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def _stub_unit(tmp_path: Path, text: str) -> Path:
    """The unit with ExecStart pointing at an executable that exists here (verify checks the path)."""
    stub = tmp_path / "edgepost"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    unit = tmp_path / "edgepost.service"
    unit.write_text(text.replace("/opt/edgepost/bin/edgepost", str(stub)))
    return unit


def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    unit = _stub_unit(tmp_path, UNIT.read_text())
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "" and done.stdout.strip() == ""


def test_verify_would_catch_a_typo(tmp_path: Path) -> None:
    """The check above is meaningful: systemd-analyze does complain about a misspelt directive."""
    unit = _stub_unit(tmp_path, UNIT.read_text().replace("ProtectHome=yes", "ProtectHome=yes\nProtectHomer=yes"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "Unknown key 'ProtectHomer'" in done.stderr


def exposure(unit: Path) -> float:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    assert match, done.stdout[-500:] + done.stderr[-500:]
    return float(match.group(1))


def test_security_exposure_within_threshold() -> None:
    assert exposure(UNIT) <= MAX_EXPOSURE


def test_threshold_would_catch_dropping_the_hardening(tmp_path: Path) -> None:
    bare = tmp_path / "edgepost.service"
    bare.write_text("[Service]\nType=notify\nExecStart=/opt/edgepost/bin/edgepost run\nUser=edgepost\n")
    assert exposure(bare) > MAX_EXPOSURE


def test_required_directives() -> None:
    s = unit_settings()
    expect = {
        "Service.Type": ["notify"],
        "Service.NotifyAccess": ["main"],
        "Service.Restart": ["always"],
        "Service.User": ["edgepost"],
        "Service.SupplementaryGroups": ["dialout video"],
        "Service.StateDirectory": ["edgepost"],
        "Service.ConfigurationDirectory": ["edgepost"],
        "Service.RuntimeDirectory": ["edgepost"],
        "Service.ExecReload": ["/bin/kill -HUP $MAINPID"],
        "Service.NoNewPrivileges": ["yes"],
        "Service.ProtectSystem": ["strict"],
        "Service.ProtectHome": ["yes"],
        "Service.PrivateTmp": ["yes"],
        "Service.DevicePolicy": ["closed"],
        "Service.CapabilityBoundingSet": [""],
        "Service.RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6"],
        "Install.WantedBy": ["multi-user.target"],
    }
    for key, value in expect.items():
        assert s.get(key) == value, key
    assert {"char-ttyS rw", "char-ttyUSB rw", "char-ttyACM rw", "char-video4linux rw"} <= set(s["Service.DeviceAllow"])
    assert int(s["Unit.StartLimitIntervalSec"][0]) > 0 and int(s["Unit.StartLimitBurst"][0]) > 0
    watchdog = int(s["Service.WatchdogSec"][0])
    stop = int(s["Service.TimeoutStopSec"][0])
    assert 10 <= watchdog <= 120
    assert stop > 20  # the daemon's own stop budget (agent.daemon.STOP_TIMEOUT_S) fits inside
    assert s["Service.ExecStart"][0].startswith("/opt/edgepost/bin/edgepost --config /etc/edgepost/config.yaml run")
