"""The global options work after the subcommand too, against the real daemon (``edgepost run -c FILE``)."""

from __future__ import annotations

import subprocess

import orjson
import pytest

from tests.fixtures.edgepost_cli import EDGEPOST, ROOT, clean_env, edgepost
from tests.integration.agent.conftest import Pole

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]


def start_run(pole: Pole, *args: str) -> subprocess.Popen[bytes]:
    """``edgepost <args>`` as the daemon, its output in the pole's log."""
    with pole.log_path.open("ab") as log:
        pole.proc = subprocess.Popen([EDGEPOST, *args], stdout=log, stderr=log, cwd=ROOT, env=clean_env())
    return pole.proc


def test_run_status_and_buffer_take_the_options_after_the_subcommand(pole: Pole) -> None:
    start_run(pole, "run", "-c", str(pole.config))
    pole.wait_log("event=agent_ready")
    sock = str(pole.state / "control.sock")

    status = edgepost("status", "--socket", sock, "--json")  # no config at all: the socket names the daemon
    assert status.returncode == 0, status.stderr
    assert "rs485" in orjson.loads(status.stdout)["status"]["drivers"]

    for args in (
        ("buffer", "stats", "-c", str(pole.config), "--json"),
        ("--json", "buffer", "--config", str(pole.config), "stats"),
        ("-c", "/nonexistent/other.yaml", "buffer", "stats", "--config", str(pole.config), "--json"),  # last wins
    ):
        done = edgepost(*args)
        assert done.returncode == 0, (args, done.stderr)
        assert "last_seq" in orjson.loads(done.stdout), args
    assert pole.stop_agent() == 0
