"""`make demo` (`python -m tests.demo`): a street pole on a laptop.

Simulated devices (energy meter, weather station, manhole-cover tilt sensor, dimmer, water level, and
a home's water meter) answer on a wire-timed 9600-baud virtual RS-485 line (a socat pty pair). The real agent (`edgepost
run`, a separate process) polls them, buffers in its SQLite outbox and publishes to a local
mosquitto. This script subscribes upstream and shows what arrives, live. Half-way it stops the broker
(the agent keeps buffering), then starts it again: the backlog drains, marked historical, and the
seq check at the bottom shows nothing was lost.

The water meter plays a tap left open (say, after a fall) and closed again about 45 s later. Its
care rule, ``continuous_flow`` with the day compressed (``hours: 0.003`` = 10.8 s of flow in every
1.8 s interval), raises a care alarm in the alarm lane within the first minute and clears it once
the water stops; the "care alarms" panel shows each transition as it reaches the broker.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
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
      - unit: 6
        profile: oem/tuf-2000m
        points:
          # the script starts at the meter's first read: a tap open for 45 s (compressed time), then shut
          positive_total: {{kind: counter, start: 500, script: [{{seconds: 45, rate: 1.0}}, {{rate: 0}}]}}
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
      - {{name: flat-0301, bus: bus1, unit_id: 6, profile: oem/tuf-2000m, points: {{positive_total: {{period: 0.5}}}}}}
care:
  timezone: Asia/Shanghai
  points:
    flat-0301.positive_total:
      continuous_flow: {{hours: 0.003, interval_min: 0.03, severity: critical,
                        message: "water running without a break: a tap left open?"}}
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
    care: list[str] = field(default_factory=list)  # each care alarm raise/clear as shown, in arrival order
    care_records: list[dict[str, Any]] = field(default_factory=list)  # the same, as published
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
                self._note_care(rec, stamp, bool(batch.get("hist")))

    def _note_care(self, rec: dict[str, Any], stamp: str, hist: bool) -> None:
        data = rec.get("data")
        if rec.get("ev") not in ("alarm", "alarm_cleared") or not isinstance(data, dict) or data.get("rule") != "care":
            return
        self.care_records.append(rec)
        if rec.get("ev") == "alarm":
            what = f"[bold red]RAISED[/] {data.get('severity')}: {escape(str(data.get('message') or ''))}"
        else:
            what = f"[green]cleared[/] ({escape(str(data.get('reason') or 'the water stopped'))})"
        lane = f"lane {rec.get('pri')}, seq {rec.get('seq')}" + (", historical" if hist else "")
        self.care.append(f"{stamp} {escape(str(rec['dev']))}.{data.get('point')} {data.get('alarm')} {what} ({lane})")

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
    care = "\n".join(up.care) or "(none yet: the flat's tap has been open less than 10.8 s of compressed time)"
    return Group(Panel(summary, title="edgepost demo"), table, Panel(events, title="events and alarms"),
                 Panel(care, title="care alarms (water use, issue 13)"))


def run(seconds: float, console: Console, until: Callable[[Upstream], bool] | None = None) -> Upstream:
    """The demo: ``seconds`` long, or until ``until(upstream)`` holds (the tests stop it early)."""
    upstream = Upstream()
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
                            if until is not None and until(upstream):
                                break
                            time.sleep(0.5)
                finally:
                    agent.send_signal(signal.SIGTERM)
                    try:
                        agent.wait(30)
                    except subprocess.TimeoutExpired:
                        agent.kill()
                    log.close()
                console.print(f"agent exited with {agent.returncode}; its log: {len(upstream.seqs)} records seen")
                console.print("care alarms upstream:\n" + ("\n".join(upstream.care) or "none"))
                tail = (work / "agent.log").read_text(errors="replace").splitlines()[-8:]
                console.print("\n".join(tail))
    return upstream


def main() -> int:
    run(float(os.environ.get("DEMO_SECONDS", "75")), Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
