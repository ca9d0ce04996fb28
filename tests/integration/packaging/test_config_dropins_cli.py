"""The technician's view of /etc/edgepost/conf.d: the real `edgepost` console script merges the
drop-ins beside the config it is given, and a bad drop-in is named by its own file:line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

EDGEPOST = Path(sys.executable).with_name("edgepost")

MAIN = "gateway: {id: pole-7}\nuplink: {host: 127.0.0.1, port: 1883}\ndrivers: []\n"
METER = (
    "# added by the provisioning tool\n"
    "drivers:\n"
    "  - driver: modbus\n"
    "    name: rs485\n"
    "    buses: [{transport: serial, name: bus1, port: /dev/ttyUSB0}]\n"
    "    devices:\n"
    "      - {name: meter, bus: bus1, unit_id: UNIT, profile: eastron/sdm120}\n"
)


def edgepost(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEPOST")}
    return subprocess.run([str(EDGEPOST), *args], capture_output=True, text=True, timeout=120, env=env)


def site(tmp_path: Path, unit: int) -> Path:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "config.yaml").write_text(MAIN)
    (tmp_path / "conf.d" / "50-meter.yaml").write_text(METER.replace("UNIT", str(unit)))
    (tmp_path / "conf.d" / "60-site.yaml").write_text("gateway: {site: Main St 12}\n")
    return tmp_path / "config.yaml"


def test_validate_counts_the_driver_a_dropin_adds(tmp_path: Path) -> None:
    config = site(tmp_path, unit=1)
    done = edgepost("config", "validate", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"{config}: valid (1 driver(s), gateway pole-7)"


def test_show_prints_the_merged_config(tmp_path: Path) -> None:
    config = site(tmp_path, unit=1)
    done = edgepost("--config", str(config), "--json", "config", "show")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["gateway"] == {"id": "pole-7", "site": "Main St 12"}
    assert [d["name"] for d in shown["drivers"]] == ["rs485"]


def test_a_bad_dropin_is_named_by_its_file_and_line(tmp_path: Path) -> None:
    config = site(tmp_path, unit=300)
    done = edgepost("config", "validate", str(config))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{tmp_path / 'conf.d' / '50-meter.yaml'}:7:" in done.stdout
    assert "drivers[0].devices[0].unit_id" in done.stdout and "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_a_conf_d_the_user_may_not_read_is_reported_not_skipped() -> None:
    """A technician outside the edgepost group (or a too-tight conf.d) gets told, not a config
    silently missing its drop-ins."""
    folder = Path(tempfile.mkdtemp(prefix="edgepost-confd-"))
    try:
        folder.chmod(0o755)
        config = site(folder, unit=1)
        config.chmod(0o644)
        (folder / "conf.d").chmod(0o700)  # root's; the CLI runs as nobody below
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEPOST")}
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             str(EDGEPOST), "config", "validate", str(config)],
            capture_output=True, text=True, timeout=120, env=env, cwd="/",
        )
    finally:
        shutil.rmtree(folder)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.strip() == f"{folder / 'conf.d'}: cannot read: Permission denied"
