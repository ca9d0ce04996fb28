"""The maintainer scripts for real: dpkg installs, upgrades, removes and purges the built package in a
throwaway copy of this machine (dpkg_sandbox.sh: an overlay over / in a private mount namespace, so
the host's /etc and dpkg database are never touched), once as in an image build (no systemd
running) and once as on a box (systemd "running": only the service manager is simulated; enable and
disable are the real systemctl's, offline).

What an operator relies on: enabled on first install, even in a chroot; an upgrade try-restarts a
running service only; an administrator's stop or disable survives an upgrade; their ownership,
modes and values of /etc/edgepost/config.yaml survive an upgrade; remove stops the service.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.packaging.conftest import later_version

HERE = Path(__file__).resolve().parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("chroot") is None,
        reason="needs root, unshare and chroot (a private mount namespace with an overlay of /)",
    ),
]


@pytest.fixture(scope="module")
def lifecycle(sensor_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("sandbox")
    upgrade = later_version(sensor_deb, work)
    out = work / "results"
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", str(HERE / "dpkg_sandbox.sh"),
         str(out), "lifecycle", str(sensor_deb), str(upgrade)],
        capture_output=True, text=True, timeout=3000,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert "box.purge.state" in results, results  # the script ran to its end
    return results


def test_installs_in_a_chroot_without_systemd_and_is_enabled(lifecycle: dict[str, str]) -> None:
    assert lifecycle["chroot.install.rc"] == "0", lifecycle["chroot.install.log"]
    assert lifecycle["chroot.enabled"] == "yes"  # the image boots with the service enabled
    assert lifecycle["chroot.events"] == ""  # and nothing tried to start it there
    assert lifecycle["chroot.user"] == "edgepost:/var/lib/edgepost:/usr/sbin/nologin"


def test_the_installed_package_works(lifecycle: dict[str, str]) -> None:
    assert lifecycle["chroot.version"].startswith("edgepost ")
    valid = "/etc/edgepost/config.yaml: valid (0 driver(s), gateway edgepost-unconfigured)|"
    assert lifecycle["chroot.validate"] == valid
    assert lifecycle["chroot.verify"] == ""  # dpkg --verify: every file as shipped
    assert int(lifecycle["chroot.pycache"]) > 500  # byte-compiled by the postinst


def test_first_install_gives_etc_edgepost_to_the_agents_group(lifecycle: dict[str, str]) -> None:
    assert lifecycle["chroot.etc"].split("|")[:4] == [
        "/etc/edgepost root:edgepost 750",
        "/etc/edgepost/conf.d root:edgepost 750",
        "/etc/edgepost/profiles root:edgepost 750",
        "/etc/edgepost/config.yaml root:edgepost 640",
    ]


def test_upgrade_keeps_the_operators_config_its_owner_and_mode(lifecycle: dict[str, str]) -> None:
    assert lifecycle["chroot.upgrade.rc"] == "0"
    assert lifecycle["chroot.after_upgrade.etc"] == "/etc/edgepost/config.yaml root:root 600|"
    assert lifecycle["chroot.after_upgrade.config"] == "1"
    # the drop-in the operator added is merged by the upgraded agent
    assert '"site": "Main St 12"' in lifecycle["chroot.after_upgrade.validate"]
    assert '"id": "pole-0042"' in lifecycle["chroot.after_upgrade.validate"]


def test_purge_in_a_chroot_leaves_nothing(lifecycle: dict[str, str]) -> None:
    assert lifecycle["chroot.remove.rc"] == "0" and lifecycle["chroot.purge.rc"] == "0"
    assert lifecycle["chroot.after_purge"] == "0"


def test_first_install_on_a_box_enables_and_starts(lifecycle: dict[str, str]) -> None:
    assert lifecycle["box.install.rc"] == "0"
    assert lifecycle["box.enabled"] == "yes"
    assert lifecycle["box.install.events"] == "start"
    assert lifecycle["box.running"] == "yes"


def test_upgrade_restarts_a_running_service_once(lifecycle: dict[str, str]) -> None:
    assert lifecycle["box.upgrade_running.rc"] == "0"
    assert lifecycle["box.upgrade_running.events"] == "restart"
    assert lifecycle["box.upgrade_running.enabled"] == "yes"


def test_upgrade_does_not_start_a_service_the_operator_stopped(lifecycle: dict[str, str]) -> None:
    assert lifecycle["box.upgrade_stopped.rc"] == "0"
    assert lifecycle["box.upgrade_stopped.events"] == ""
    assert lifecycle["box.upgrade_stopped.running"] == "no"


def test_upgrade_keeps_an_administrators_disable(lifecycle: dict[str, str]) -> None:
    assert lifecycle["box.disabled"] == "no"
    assert lifecycle["box.upgrade_disabled.rc"] == "0"
    assert lifecycle["box.upgrade_disabled.enabled"] == "no"
    assert lifecycle["box.upgrade_disabled.events"] == ""


def test_remove_stops_and_purge_forgets(lifecycle: dict[str, str]) -> None:
    assert lifecycle["box.remove.rc"] == "0"
    assert lifecycle["box.remove.events"] == "stop"
    assert lifecycle["box.remove.pycache"] == "0"  # the byte-code the postinst made is gone too
    assert lifecycle["box.remove.leftover"] == ""
    assert lifecycle["box.purge.rc"] == "0"
    assert lifecycle["box.purge.enabled"] == "no" and lifecycle["box.purge.state"] == "0"
