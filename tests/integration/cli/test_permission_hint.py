"""Issue 12, plain words: a technician outside the daemon's group is told which group, from the config.

A real daemon (``edgepost run``, uplink off) owns its control socket with the configured group; the
CLI runs as another user (nobody, through setpriv) and is refused by the kernel. The hint named a
hard-coded "edgepost" whatever ``control.group`` said.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from agent.cli.exit_codes import ExitCode
from tests.fixtures.edgepost_cli import EDGEPOST, ROOT, clean_env

GROUP = "daemon"  # exists on every Debian box, and is not the default "edgepost"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root (to run as another user) and setpriv"
)


def test_the_permission_hint_names_the_configured_group() -> None:
    folder = Path(tempfile.mkdtemp(prefix="edgepost-perm-"))
    daemon: subprocess.Popen[bytes] | None = None
    try:
        folder.chmod(0o755)
        socket = folder / "run" / "control.sock"
        config = folder / "config.yaml"
        config.write_text(
            "gateway: {id: pole-perm}\n"
            f"state_dir: {folder / 'state'}\n"
            "uplink: {enabled: false}\n"
            f"control: {{socket: {socket}, group: {GROUP}}}\n"
            "drivers: []\n"
        )
        config.chmod(0o644)
        log = (folder / "daemon.log").open("wb")
        daemon = subprocess.Popen([EDGEPOST, "-c", str(config), "run"], stdout=log, stderr=log, cwd=ROOT,
                                  env=clean_env())
        deadline = time.monotonic() + 60
        while not socket.exists():
            assert daemon.poll() is None, (folder / "daemon.log").read_text()
            assert time.monotonic() < deadline, "the daemon never made its socket"
            time.sleep(0.1)
        (folder / "run").chmod(0o755)  # the directory lets anyone look; the socket's group decides
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", EDGEPOST, "-c", str(config), "status"],
            capture_output=True, text=True, timeout=120, env=clean_env(), cwd="/",
        )
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == ExitCode.PERMISSION, done.stderr
    assert "Traceback" not in done.stderr
    assert f"group '{GROUP}'" in done.stderr and f"usermod -aG {GROUP} nobody" in done.stderr
    assert "edgepost?" not in done.stderr
