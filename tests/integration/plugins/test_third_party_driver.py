"""The proof of the plugin boundary: a driver built outside the edgepost tree runs end to end.

``tests/fixtures/tinylamp`` is a distribution of its own (pyproject with ``edgepost.drivers``,
``edgepost.driver_configs`` and ``edgepost.cli`` entry points). The test builds it with pip into a
directory only this test's subprocesses see (PYTHONPATH; nothing enters the shared venv), then drives
the real ``edgepost`` console script: config validate, run, status, read and write by point name,
raw verbs through the plugin's own CLI subcommand on the daemon's bus, and a downlink write over a real
mosquitto -- all with nothing in agent/ knowing the driver.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.cli.exit_codes import ExitCode
from tests.fixtures.edgepost_cli import EDGEPOST, ROOT, clean_env, edgepost
from tests.fixtures.mosquitto import Collector, Mosquitto

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(300)]

SOURCE = ROOT / "tests" / "fixtures" / "tinylamp"
GATEWAY = "lamp-pole"
CONFIG = """
gateway: {{id: {gateway}}}
state_dir: {state}
drivers:
  - driver: tinylamp
    name: lamps
    line: line1
    lamps: [{{name: lamp1, level: 50}}, {{name: lamp2, level: 10}}]
commands: {{writable: ["lamp1.level"]}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""


def wait_until(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """tinylamp built from its own pyproject and installed into a directory of its own."""
    work = tmp_path_factory.mktemp("tinylamp")
    source = work / "src"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = work / "site"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=240,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert (site / "tinylamp" / "driver.py").is_file()
    assert "edgepost.drivers" in next(site.glob("edgepost_tinylamp-*.dist-info/entry_points.txt")).read_text()
    yield site
    shutil.rmtree(work, ignore_errors=True)


def test_the_plugin_is_not_in_the_shared_environment(plugin_site: Path) -> None:
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("edgepost-tinylamp")
    assert "tinylamp" not in {ep.name for ep in importlib.metadata.entry_points(group="edgepost.drivers")}


def lamp_env(site: Path) -> dict[str, str]:
    return clean_env(PYTHONPATH=os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p))


def cli(env: dict[str, str], config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return edgepost("--config", str(config), *args, env=env)


def cli_json(env: dict[str, str], config: Path, *args: str) -> Any:
    result = cli(env, config, "--json", *args)
    assert result.returncode == 0, (args, result.returncode, result.stderr)
    return orjson.loads(result.stdout)


def lamp_readings(sub: Collector, point: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for msg in sub.snapshot(topic_suffix="/telemetry"):
        payload = msg.payload if msg.payload[:1] == b"{" else zlib.decompress(msg.payload)
        out += [(r["dev"], r["v"]) for r in orjson.loads(payload)["records"] if r.get("pt") == point]
    return out


def command_answers(sub: Collector, command_id: str) -> list[dict[str, Any]]:
    answers = [orjson.loads(m.payload) for m in sub.snapshot(topic_suffix="/cmd-result")]
    return [a for a in answers if a.get("id") == command_id]


def test_a_third_party_driver_runs_end_to_end(plugin_site: Path, tmp_path: Path) -> None:
    env = lamp_env(plugin_site)
    assert "tinylamp" in edgepost("--help", env=env).stdout  # its CLI subcommand is offered
    state, config = tmp_path / "state", tmp_path / "config.yaml"
    with Mosquitto(tmp_path) as broker:
        config.write_text(CONFIG.format(gateway=GATEWAY, state=state, mqtt_port=broker.port))
        validated = cli(env, config, "config", "validate")
        assert validated.returncode == 0, validated.stderr
        assert "valid (1 driver(s)" in validated.stdout
        bad = tmp_path / "bad.yaml"
        bad.write_text(config.read_text().replace("level: 10", "level: 300"))
        refused = cli(env, bad, "config", "validate")  # the plugin's own config model checks its fields
        assert refused.returncode == ExitCode.USAGE and "lamps[1].level" in refused.stdout + refused.stderr
        # no daemon yet: the CLI opens the driver serving the device itself, found by its inventory
        assert cli_json(env, config, "read", "lamp2", "level")["value"] == 10

        log_path = tmp_path / "agent.log"
        with log_path.open("ab") as log, broker.collector(f"edgepost/{GATEWAY}/#") as sub:
            daemon = subprocess.Popen([EDGEPOST, "--config", str(config), "run"], stdout=log, stderr=log,
                                      env=env, cwd=ROOT)
            try:
                run_against_the_daemon(env, config, broker, sub, daemon, log_path)
            finally:
                if daemon.poll() is None:
                    daemon.send_signal(signal.SIGTERM)
                    try:
                        daemon.wait(30)
                    except subprocess.TimeoutExpired:
                        daemon.kill()
                        daemon.wait(10)
            assert daemon.returncode == 0, log_path.read_text()[-3000:]


def run_against_the_daemon(
    env: dict[str, str], config: Path, broker: Mosquitto, sub: Collector, daemon: subprocess.Popen[bytes],
    log_path: Path,
) -> None:
    def up() -> bool:
        assert daemon.poll() is None, log_path.read_text()[-3000:]
        return "event=uplink_connected" in log_path.read_text(errors="replace")

    wait_until(up, "the daemon's uplink")
    status = cli_json(env, config, "status")["status"]
    assert status["drivers"]["lamps"]["lamps"]["lamp1"] == {"level": 50}
    assert status["tasks"]["driver.lamps"]["running"] is True
    shown = cli(env, config, "status")
    assert shown.returncode == 0 and "lamp1" in shown.stdout and "line1" in shown.stdout, shown.stdout

    # read and write by point name, through the running daemon
    assert cli_json(env, config, "read", "lamp1", "level")["value"] == 50
    written = cli(env, config, "write", "lamp1", "level", "70")
    assert written.returncode == 0, written.stderr
    assert cli_json(env, config, "read", "lamp1", "level")["value"] == 70
    assert cli_json(env, config, "read", "lamp1", "watts")["value"] == 42.0
    read_only = cli(env, config, "write", "lamp1", "watts", "1")
    assert read_only.returncode == ExitCode.REFUSED and "read-only" in read_only.stderr

    # raw verbs on the daemon's bus, from the plugin's own CLI subcommand; the driver checks the arguments
    peek = cli_json(env, config, "tinylamp", "peek", "lamp1", "--line", "line1")
    assert peek == {"lamp": "lamp1", "level": 70, "writes": 1}
    too_many = cli(env, config, "tinylamp", "blink", "lamp1", "--line", "line1", "--times", "99")
    assert too_many.returncode == ExitCode.USAGE and "times" in too_many.stderr
    unknown_line = cli(env, config, "tinylamp", "peek", "lamp1", "--line", "nowhere")
    assert unknown_line.returncode != 0 and "line1" in unknown_line.stderr

    # a downlink command over the broker reaches the plugin, and its new value comes back as telemetry
    wait_until(lambda: ("lamp1", 70) in lamp_readings(sub, "level"), "lamp1 level 70 at the broker")
    command = {"id": "dim-1", "kind": "write_point", "device": "lamp1", "point": "level", "value": 20,
               "expires_at": time.time() + 300}
    time.sleep(0.5)  # the daemon's SUBACK for cmd/# follows its uplink_connected line
    sub.publish(f"edgepost/{GATEWAY}/cmd/ops", orjson.dumps(command))
    wait_until(lambda: command_answers(sub, "dim-1"), "the answer to dim-1")
    answer = command_answers(sub, "dim-1")[0]
    assert answer["ok"] is True, answer
    wait_until(lambda: ("lamp1", 20) in lamp_readings(sub, "level"), "lamp1 level 20 at the broker")
    assert cli_json(env, config, "read", "lamp1", "level")["value"] == 20
    refused = {"id": "dim-2", "kind": "write_point", "device": "lamp2", "point": "level", "value": 5,
               "expires_at": time.time() + 300}
    sub.publish(f"edgepost/{GATEWAY}/cmd/ops", orjson.dumps(refused))
    wait_until(lambda: command_answers(sub, "dim-2"), "the answer to dim-2")
    assert command_answers(sub, "dim-2")[0]["code"] == "unauthorised"
    assert cli_json(env, config, "read", "lamp2", "level")["value"] == 10
