"""`make demo` (`python -m tests.demo`): a street pole on a laptop.

Simulated devices (energy meter, weather station, manhole-cover tilt sensor, dimmer, water level)
answer on a wire-timed 9600-baud virtual RS-485 line (a socat pty pair). The real agent (`edgepost
run`, a separate process) polls them, buffers in its SQLite outbox and publishes to a local
mosquitto. This script subscribes upstream and shows what arrives, live. Half-way it stops the broker
(the agent keeps buffering), then starts it again: the backlog drains, marked historical, and the
seq check at the bottom shows nothing was lost.

It lives beside the tests because it reuses their fixtures (broker, pty pair); it is not shipped.
``DEMO_SECONDS`` (default 75) sets how long it runs; Ctrl-C stops it early.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from drivers.modbus.simulator.runner import run_in_thread
from drivers.modbus.simulator.serve import build_servers
from drivers.modbus.simulator.spec import parse_spec
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.serial import socat_pty_pair

# points not named here (frequency, energy, humidity, ...) serve their profile's simulate: hint or a
# default from their unit: the demo shows plausible values for every point it polls
SIM_SPEC = """
buses:
  - serial: {{port: "{port}", baud: 9600}}
    # the pole's own DL/T 645 meter on the same line (read by the dlt645 driver section below)
    meters:
      - meter: "000012345678"
        profile: chint/ddsu666-dlt645
        points:
          voltage: {{kind: sine, amplitude: 4, period: 50, offset: 229}}
          current: {{kind: random_walk, step: 0.05, min: 0.5, max: 2.5, seed: 7}}
    devices:
      - unit: 1
        profile: eastron/sdm120
        points:
          voltage: {{kind: sine, amplitude: 6, period: 40, offset: 231}}
          current: {{kind: random_walk, step: 0.05, min: 0.2, max: 1.5, seed: 1}}
          active_power: {{kind: random_walk, step: 5, min: 40, max: 300, seed: 2}}
      - unit: 2
        profile: renke/rs-fsxcs-n01
        points:
          pm2_5: {{kind: random_walk, step: 3, min: 5, max: 120, seed: 3}}
          noise: {{kind: sine, amplitude: 8, period: 30, offset: 62}}
          temperature: {{kind: sine, amplitude: 2, period: 120, offset: 14}}
      - unit: 3
        profile: witmotion/wt901c-485
        points:
          roll: {{kind: sequence, per: second, values: [0.4, 0.5, 0.3, 0.6, 0.4, 0.5, 0.2, 0.4, 0.3, 0.5,
                                                         3.0, 8.0, 14.5, 16.0, 15.2, 7.0, 1.0, 0.4]}}
      - unit: 4
        profile: waveshare/analog-output-8ch-b
      - unit: 5
        profile: keller/series30
        points:
          p1_pressure: {{kind: sine, amplitude: 0.05, period: 60, offset: 0.12}}
"""

AGENT_CONFIG = """
gateway: {{id: demo-pole-01, site: "Demo street 1"}}
state_dir: {state}
drivers:
  - driver: dlt645
    name: meters
    buses:
      - {{name: cabinet, port: "{port}", baudrate: 9600, parity: N, timeout_s: 0.5}}
    devices:
      - {{name: pole-meter, bus: cabinet, address: "000012345678", profile: chint/ddsu666-dlt645,
         points: {{voltage: {{period: 2}}, current: {{period: 2}}, active_power: {{period: 2}},
                  import_energy: {{period: 2}}}}}}
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 9600, timeout_s: 0.5}}
    # a point's own period (from its profile) beats the device's period_s; the demo wants every
    # point fast, so it sets each one (per-point periods win over the profile's)
    devices:
      - {{name: meter, bus: bus1, unit_id: 1, profile: eastron/sdm120,
         points: {{voltage: {{period: 2}}, current: {{period: 2}}, active_power: {{period: 2}},
                  frequency: {{period: 2}}, import_energy: {{period: 2}}}}}}
      - {{name: weather, bus: bus1, unit_id: 2, profile: renke/rs-fsxcs-n01,
         points: {{pm2_5: {{period: 2}}, pm10: {{period: 2}}, noise: {{period: 2}}, temperature: {{period: 2}},
                  humidity: {{period: 2}}}}}}
      - {{name: manhole, bus: bus1, unit_id: 3, profile: witmotion/wt901c-485,
         points: {{roll: {{period: 1}}, pitch: {{period: 1}}}}}}
      - {{name: dimmer, bus: bus1, unit_id: 4, profile: waveshare/analog-output-8ch-b, period_s: 5,
         points: [dim_1, dim_2]}}
      - {{name: level, bus: bus1, unit_id: 5, profile: keller/series30,
         points: {{p1_pressure: {{period: 2}}, p1_temperature: {{period: 2}}}}}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}, topic_prefix: edgepost}}
commands: {{writable: ["dimmer.dim_*"]}}
control: {{socket: {state}/control.sock, group: null}}
pipeline: {{heartbeat_s: 30}}
"""


@dataclass
class Upstream:
    """What the broker saw, decoded."""

    latest: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    seqs: set[int] = field(default_factory=set)
    duplicates: int = 0
    historical: int = 0
    messages: int = 0
    events: deque[str] = field(default_factory=lambda: deque(maxlen=6))
    state: str = "?"

    def take(self, topic: str, payload: bytes) -> None:
        if topic.endswith("/state"):
            self.state = payload.decode(errors="replace")
            return
        if not (topic.endswith("/telemetry") or topic.endswith("/events")):
            return
        try:
            batch = orjson.loads(_inflate(payload))
        except orjson.JSONDecodeError:
            return
        self.messages += 1
        for rec in batch.get("records", []):
            seq = int(rec.get("seq", 0))
            if seq in self.seqs:
                self.duplicates += 1
            self.seqs.add(seq)
            if batch.get("hist"):
                self.historical += 1
            if "pt" in rec:
                self.latest[(rec["dev"], rec["pt"])] = rec
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(rec.get("ts", 0)))
                self.events.append(f"{stamp} {rec['dev']}: {rec.get('ev')} {orjson.dumps(rec.get('data')).decode()}")

    def missing(self) -> int:
        return (max(self.seqs) - len(self.seqs)) if self.seqs else 0


def _inflate(payload: bytes) -> bytes:
    if payload[:1] in (b"{", b"["):
        return payload
    import zlib

    try:
        return zlib.decompress(payload)
    except zlib.error:
        return payload


def render(up: Upstream, phase: str, agent_alive: bool) -> Group:
    table = Table(title="upstream (what the cloud receives)", expand=True)
    for col in ("device", "point", "value", "unit", "quality", "seq", "age s"):
        table.add_column(col)
    now = time.time()
    for (dev, pt), rec in sorted(up.latest.items()):
        value = rec.get("v")
        shown = str(value)  # as published: 231.4, not 231.400 or 231.39999389648438
        table.add_row(dev, pt, shown, rec.get("u") or "", rec.get("q", ""), str(rec.get("seq")),
                      f"{now - rec.get('ts', now):.1f}")
    summary = (
        f"phase: [bold]{phase}[/]   agent: {'running' if agent_alive else '[red]stopped[/]'}   "
        f"gateway state: {up.state}\nmessages: {up.messages}   records: {len(up.seqs)}   "
        f"historical: {up.historical}   max seq: {max(up.seqs) if up.seqs else 0}   "
        f"missing seqs: {up.missing()}   duplicates: {up.duplicates}"
    )
    events = "\n".join(up.events) or "(none yet)"
    return Group(Panel(summary, title="edgepost demo"), table, Panel(events, title="events and alarms"))


def main() -> int:
    seconds = float(os.environ.get("DEMO_SECONDS", "75"))
    console = Console()
    with tempfile.TemporaryDirectory(prefix="edgepost-demo-") as tmp:
        work = Path(tmp)
        state = work / "state"
        with Mosquitto(work / "broker", persistence=True) as broker, socat_pty_pair() as (sim_port, agent_port):
            spec, doc = parse_spec(SIM_SPEC.format(port=sim_port), "<demo simulator>")
            with run_in_thread(*build_servers(spec, doc)):
                config = work / "config.yaml"
                config.write_text(AGENT_CONFIG.format(state=state, port=agent_port, mqtt_port=broker.port))
                log = (work / "agent.log").open("wb")
                agent = subprocess.Popen(
                    [sys.executable, "-m", "agent.cli.main", "--config", str(config), "run"], stderr=log
                )
                upstream = Upstream()
                try:
                    with broker.collector("edgepost/#", persistent=True) as sub, Live(console=console) as live:
                        started = time.monotonic()
                        seen = 0
                        phase = "live"
                        while (elapsed := time.monotonic() - started) < seconds and agent.poll() is None:
                            if 25 <= elapsed < 40 and broker.running:
                                broker.stop()
                                phase = "broker DOWN: the agent buffers in SQLite"
                            elif elapsed >= 40 and not broker.running:
                                broker.start()
                                phase = "broker back: draining the backlog (historical) beside live data"
                            elif elapsed >= 55 and broker.running:
                                phase = "live"
                            for message in sub.snapshot()[seen:]:
                                upstream.take(message.topic, message.payload)
                            seen = len(sub.snapshot())
                            live.update(render(upstream, phase, agent.poll() is None))
                            time.sleep(0.5)
                finally:
                    agent.send_signal(signal.SIGTERM)
                    try:
                        agent.wait(30)
                    except subprocess.TimeoutExpired:
                        agent.kill()
                    log.close()
                console.print(f"agent exited with {agent.returncode}; its log: {len(upstream.seqs)} records seen")
                tail = (work / "agent.log").read_text(errors="replace").splitlines()[-8:]
                console.print("\n".join(tail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
