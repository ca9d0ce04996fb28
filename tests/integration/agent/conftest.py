"""A real pole in a box: simulated devices on a socat pty, mosquitto, and `edgepost run` as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from drivers.modbus.simulator.runner import run_in_thread
from drivers.modbus.simulator.serve import build_servers
from drivers.modbus.simulator.spec import parse_spec
from tests.fixtures.mosquitto import Collector, Mosquitto
from tests.fixtures.serial import socat_pty_pair

ROOT = Path(__file__).resolve().parents[3]

SIM = """
buses:
  - serial: {{port: "{port}", baud: 38400}}
    devices:
      - unit: 1
        profile: eastron/sdm120
        points:
          voltage: {{kind: random_walk, step: 2, min: 200, max: 260, seed: 1}}
          current: {{kind: random_walk, step: 0.2, min: 0, max: 5, seed: 2}}
      - unit: 3
        profile: witmotion/wt901c-485
        points:
          roll: {{kind: random_walk, step: 0.5, min: -3, max: 3, seed: 3}}
"""

CONFIG = """
gateway: {{id: it-pole, site: test}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 38400, timeout_s: 0.3}}
    devices:
{devices}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""

DEVICES = {
    "meter": "      - {name: meter, bus: bus1, unit_id: 1, profile: eastron/sdm120,"
    " points: {voltage: {period: 0.2}, current: {period: 0.2}}}",
    "manhole": "      - {name: manhole, bus: bus1, unit_id: 3, profile: witmotion/wt901c-485,"
    " points: {roll: {period: 0.2}, pitch: {period: 0.2}}}",
}


def records_of(collector: Collector) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for msg in collector.snapshot():
        if not (msg.topic.endswith("/telemetry") or msg.topic.endswith("/events")):
            continue
        payload = msg.payload if msg.payload[:1] == b"{" else zlib.decompress(msg.payload)
        out.extend(orjson.loads(payload)["records"])
    return out


def seqs_of(collector: Collector) -> set[int]:
    return {int(r["seq"]) for r in records_of(collector)}  # type: ignore[call-overload]


@dataclass
class Pole:
    workdir: Path
    broker: Mosquitto
    agent_port: str
    config: Path
    state: Path
    proc: subprocess.Popen[bytes] | None = None

    def write_config(self, devices: list[str] | None = None, text: str | None = None) -> None:
        body = text or CONFIG.format(
            state=self.state,
            port=self.agent_port,
            mqtt_port=self.broker.port,
            devices="\n".join(DEVICES[d] for d in (devices or ["meter", "manhole"])),
        )
        self.config.write_text(body)

    @property
    def log_path(self) -> Path:
        return self.workdir / "agent.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start_agent(self, env: dict[str, str] | None = None, module: str = "agent.cli.main") -> subprocess.Popen[bytes]:
        """``edgepost run`` as a subprocess (``module``: a wrapper with the same command line, e.g. a
        fault-injecting harness)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, "--config", str(self.config), "run"],
                stderr=log,
                stdout=log,
                env={**os.environ, **(env or {})},
                cwd=ROOT,
            )
        return self.proc

    def stop_agent(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def wait_log(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not logged; log tail:\n{self.log()[-3000:]}")
            time.sleep(0.1)


@pytest.fixture
def pole(tmp_path: Path) -> Iterator[Pole]:
    with Mosquitto(tmp_path, persistence=True) as broker, socat_pty_pair() as (sim_port, agent_port):
        spec, doc = parse_spec(SIM.format(port=sim_port), "<sim>")
        with run_in_thread(*build_servers(spec, doc)):
            p = Pole(tmp_path, broker, agent_port, tmp_path / "config.yaml", tmp_path / "state")
            p.write_config()
            try:
                yield p
            finally:
                if p.proc is not None and p.proc.poll() is None:
                    p.proc.kill()
                    p.proc.wait(10)


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
