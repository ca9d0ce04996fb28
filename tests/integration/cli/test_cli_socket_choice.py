"""The CLI never talks to a daemon it was not meant for (two real daemons, two sockets).

Daemon A listens on the default socket (``/run/edgepost/control.sock``), daemon B on a socket its
config names. Everything runs in a private mount namespace with its own tmpfs on ``/run``, so the
default socket of this test is nobody else's. With B's config broken, ``edgepost -c B config reload``
used to fall back to the default socket, reload daemon A and print "config reloaded".
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.cli.exit_codes import ExitCode
from agent.config import ControlConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SOCKET = ControlConfig().socket


def _namespace_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@dataclass
class MountNamespace:
    """A process holding a mount namespace whose ``/run`` is a private tmpfs."""

    holder: subprocess.Popen[bytes]

    def command(self, *args: str) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--", *args]


@pytest.fixture
def namespace() -> Iterator[MountNamespace]:
    if not _namespace_works():
        pytest.skip("needs unshare/nsenter with CAP_SYS_ADMIN (a private /run for the default socket)")
    holder = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         "mount -t tmpfs tmpfs /run && echo ready && exec sleep 3600"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"ready"
        yield MountNamespace(holder)
    finally:
        holder.kill()
        holder.wait(10)


def config_text(state: Path, socket: Path | None) -> str:
    control = f"{{socket: {socket}, group: null}}" if socket is not None else "{group: null}"
    return (
        "gateway: {id: pole-it}\n"
        f"state_dir: {state}\n"
        "uplink: {enabled: false}\n"
        f"control: {control}\n"
        "drivers: []\n"
    )


@dataclass
class Daemon:
    name: str
    config: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def reloads(self) -> int:
        return self.text().count("event=config_reloaded") + self.text().count("event=config_reload_refused")


def start_daemon(ns: MountNamespace, work: Path, name: str, socket: Path | None) -> Daemon:
    config = work / f"{name}.yaml"
    config.write_text(config_text(work / f"state-{name}", socket))
    log = work / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ns.command(sys.executable, "-m", "agent.cli.main", "-c", str(config), "run"),
            cwd=ROOT, stdout=out, stderr=out,
        )
    daemon = Daemon(name, config, log, proc)
    deadline = time.monotonic() + 60
    while "event=agent_ready" not in daemon.text():
        assert proc.poll() is None, f"daemon {name} exited: {daemon.text()[-2000:]}"
        assert time.monotonic() < deadline, f"daemon {name} not ready: {daemon.text()[-2000:]}"
        time.sleep(0.1)
    return daemon


def stop(daemon: Daemon) -> None:
    if daemon.proc.poll() is None:
        daemon.proc.send_signal(signal.SIGTERM)
        try:
            daemon.proc.wait(30)
        except subprocess.TimeoutExpired:
            daemon.proc.kill()
            daemon.proc.wait(10)


def cli(ns: MountNamespace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EDGEPOST_CONFIG", "EDGEPOST_SOCKET")}
    return subprocess.run(
        ns.command(sys.executable, "-m", "agent.cli.main", *args),
        capture_output=True, text=True, timeout=90, cwd=ROOT, env=env,
    )


def test_reload_with_a_broken_config_reaches_no_other_daemon(namespace: MountNamespace, tmp_path: Path) -> None:
    sock_b = tmp_path / "b.sock"
    daemon_a = start_daemon(namespace, tmp_path, "a", None)  # the default socket
    try:
        daemon_b = start_daemon(namespace, tmp_path, "b", sock_b)
        try:
            # sanity: the default socket really is daemon A's, inside the namespace
            status = cli(namespace, "--socket", str(DEFAULT_SOCKET), "--json", "status")
            assert status.returncode == 0, status.stderr

            good_b = daemon_b.config.read_text()
            daemon_b.config.write_text(good_b + "bogus: 1\n")

            refused = cli(namespace, "-c", str(daemon_b.config), "config", "reload")
            assert refused.returncode == ExitCode.USAGE, (refused.stdout, refused.stderr)
            assert "bogus: unknown key" in refused.stderr
            assert "--socket" in refused.stderr and "config reloaded" not in refused.stdout

            missing = cli(namespace, "-c", str(tmp_path / "no-such.yaml"), "config", "reload")
            assert missing.returncode == ExitCode.USAGE, (missing.stdout, missing.stderr)
            assert "no-such.yaml" in missing.stderr

            # naming the socket reaches B, which refuses its own broken file
            named = cli(namespace, "-c", str(daemon_b.config), "--socket", str(sock_b), "config", "reload")
            assert named.returncode == ExitCode.USAGE, (named.stdout, named.stderr)
            assert "bogus: unknown key" in named.stdout
            assert daemon_b.text().count("event=config_reload_refused") == 1

            # a valid config picks B's own socket, and the answer names that socket and B's file
            daemon_b.config.write_text(good_b)
            done = cli(namespace, "-c", str(daemon_b.config), "config", "reload")
            assert done.returncode == 0, (done.stdout, done.stderr)
            assert str(sock_b) in done.stdout and str(daemon_b.config) in done.stdout
            assert daemon_b.text().count("event=config_reloaded") == 1

            assert daemon_a.reloads() == 0, "daemon A (default socket) was reloaded by a command meant for B"
        finally:
            stop(daemon_b)
    finally:
        stop(daemon_a)
    assert daemon_a.proc.returncode == 0 and daemon_b.proc.returncode == 0
