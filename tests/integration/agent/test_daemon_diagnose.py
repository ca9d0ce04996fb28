"""``edgepost diagnose`` bundles the daemon's recent log when there is no journal to read it from."""

from __future__ import annotations

import stat
import tarfile
from pathlib import Path

import pytest

from tests.fixtures.edgepost_cli import edgepost
from tests.integration.agent.conftest import Pole
from tests.integration.agent.test_daemon_logs import start

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]


def bundle_part(bundle: Path, name: str) -> str | None:
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            if member.name.endswith(f"/{name}"):
                data = tar.extractfile(member)
                assert data is not None
                return data.read().decode()
    return None


def test_diagnose_holds_the_recent_log_of_a_daemon_not_under_journald(pole: Pole, tmp_path: Path) -> None:
    start(pole, "run", "-c", str(pole.config))
    pole.wait_log("event=agent_ready")
    running = tmp_path / "running.tar.gz"
    done = edgepost("diagnose", "-c", str(pole.config), "-o", str(running))
    assert done.returncode == 0, done.stderr
    assert pole.stop_agent() == 0

    log = bundle_part(running, "agent-log.txt")
    assert log is not None, bundle_part(running, "errors.txt")
    assert "-- No entries --" not in log
    ready = [line for line in log.splitlines() if " event=agent_ready " in line]
    assert ready and ready[0].startswith("time=")

    stopped = tmp_path / "stopped.tar.gz"  # a daemon that is gone: its last lines are what matters
    done = edgepost("diagnose", "-c", str(pole.config), "-o", str(stopped))
    assert done.returncode == 0, done.stderr
    assert "event=agent_stopped" in (bundle_part(stopped, "agent-log.txt") or "")

    recent = pole.state / "log" / "agent.log"
    assert stat.S_IMODE(recent.stat().st_mode) == 0o640
    assert stat.S_IMODE(recent.parent.stat().st_mode) == 0o750


def test_diagnose_says_why_there_is_no_recent_log(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(f"gateway: {{id: never-ran}}\nstate_dir: {tmp_path / 'state'}\n")
    bundle = tmp_path / "b.tar.gz"
    done = edgepost("diagnose", "-c", str(config), "-o", str(bundle))
    assert done.returncode == 0, done.stderr
    errors = bundle_part(bundle, "errors.txt") or ""
    assert "agent-log.txt" in errors and "no recent log" in errors
