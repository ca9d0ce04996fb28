"""Inputs of the fleet load model (docs/fleet-load.md), measured.

1. Bytes per record on the wire, JSON batches vs Sparkplug B: realistic readings (5 devices, float
   values, units, good quality) encoded by the real codecs in messages of 1 to 500 records.
2. ``--pole-seconds S``: one pole at **default settings**, measured at the broker. The real daemon
   (``edgepost run``, a subprocess) polls the demo's simulated pole (tests/demo.py: energy meter,
   weather station, tilt sensor, dimmer, water level on a wire-timed 9600-baud pty line; every readable
   point of each profile at the profile's own period and deadband, the default heartbeat) and
   publishes to a local mosquitto, once in the JSON namespace and once as a Sparkplug edge node. A
   subscriber counts, after a warm-up, what reaches the broker: messages/s, records/s, payload
   bytes/s and MQTT bytes/s (each PUBLISH as framed on the wire: fixed header, topic, packet id,
   MQTT 5 properties, payload; plus 4 bytes of PUBACK for QoS 1). The signals' motion is the
   simulator's (sines and random walks): that, not the code, decides how often a deadband trips.

Usage: python bench/bench_fleet_load.py [--pole-seconds 150] [--warmup-s 30]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.outbox.api import StoredRecord  # noqa: E402
from agent.records import Priority  # noqa: E402
from agent.uplink.codecs.json_batch import JsonBatchCodec  # noqa: E402
from agent.uplink.sparkplug.catalog import Catalog, DeviceDecl, PointDecl  # noqa: E402
from agent.uplink.sparkplug.encoder import SparkplugEncoder  # noqa: E402

DEVICES = [f"meter{i}" for i in range(5)]
POINTS = ["voltage", "current", "active_power", "energy", "frequency", "power_factor", "temperature", "humidity"]

POLE_CONFIG = """
gateway: {{id: pole-00017}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 9600}}
    devices:
      - {{name: meter, bus: bus1, unit_id: 1, profile: eastron/sdm120}}
      - {{name: weather, bus: bus1, unit_id: 2, profile: renke/rs-fsxcs-n01}}
      - {{name: manhole, bus: bus1, unit_id: 3, profile: witmotion/wt901c-485}}
      - {{name: dimmer, bus: bus1, unit_id: 4, profile: waveshare/analog-output-8ch-b}}
      - {{name: level, bus: bus1, unit_id: 5, profile: keller/series30}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}, namespace: {namespace}}}
control: {{socket: {state}/control.sock, group: null}}
"""


def records(n: int) -> list[StoredRecord]:
    now = time.time()
    out = []
    for i in range(n):
        body = {"point": POINTS[i % len(POINTS)], "value": 230.0 + (i * 7919 % 1000) / 37.0, "unit": "V",
                "quality": "good"}
        out.append(StoredRecord(100_000 + i, Priority.TELEMETRY, "reading", DEVICES[i // len(POINTS) % len(DEVICES)],
                                now + i * 0.01, now, body))  # type: ignore[arg-type]
    return out


def bytes_per_record() -> None:
    json_codec = JsonBatchCodec("pole-00017", 256 * 1024, True)
    catalog = Catalog()
    points = tuple(PointDecl(p, "float64", unit="V") for p in POINTS)
    catalog.declare([DeviceDecl(d, "online", points) for d in DEVICES])
    spb = SparkplugEncoder(catalog, "pole-00017", 256 * 1024)
    print("records/msg | JSON live B/rec | JSON backlog (zlib) B/rec | Sparkplug B/rec (msgs: one per device)")
    for n in (1, 10, 40, 100, 500):
        recs = records(n)
        live = sum(len(b.payload) for b in json_codec.encode(recs, False))
        hist = sum(len(b.payload) for b in json_codec.encode(recs, True))
        messages = spb.encode(recs, False).messages
        spb_bytes = sum(len(m.payload.SerializeToString()) + 2 for m in messages)  # + seq field
        print(f"{n:11d} | {live / n:15.1f} | {hist / n:25.1f} | {spb_bytes / n:8.1f} ({len(messages)} msgs)")


def varint_len(n: int) -> int:
    return 1 if n < 128 else 2 if n < 16384 else 3 if n < 2_097_152 else 4


def wire_bytes(message: Any) -> int:
    """One MQTT 5 PUBLISH as framed on the wire (MQTT 5 section 3.3: fixed header, topic, packet id,
    properties with their length, payload), plus its PUBACK (4 bytes) at QoS 1."""
    topic, payload, qos = message.topic, message.payload, message.qos
    content = 3 + len(message.content_type.encode()) if message.content_type else 0
    user = sum(5 + len(k.encode()) + len(v.encode()) for k, v in message.user_properties)
    props = content + user + varint_len(content + user)
    remaining = 2 + len(topic.encode()) + (2 if qos else 0) + props + len(payload)
    return 1 + varint_len(remaining) + remaining + (4 if qos else 0)


def count_records(topic: str, payload: bytes) -> int:
    """Records in one message: JSON batch records, Sparkplug data metrics (each carries one record)."""
    if topic.startswith("spBv1.0/"):
        from tests.fixtures.sparkplug_decode import decode

        verb = topic.split("/")[2]
        return len(decode(payload)["metrics"]) if verb in ("DDATA", "NDATA") else 0
    if topic.endswith(("/telemetry", "/events", "/snapshots")):
        import zlib

        import orjson

        raw = payload if payload[:1] == b"{" else zlib.decompress(payload)
        doc = orjson.loads(raw)
        return len(doc.get("records", [])) if "records" in doc else 1
    return 0


def measure_pole(namespace: str, seconds: float, warmup_s: float, work: Path) -> dict[str, float]:
    from drivers.modbus.simulator.runner import run_in_thread
    from drivers.modbus.simulator.serve import build_servers
    from drivers.modbus.simulator.spec import parse_spec
    from tests.demo import SIM_SPEC
    from tests.fixtures.mosquitto import Mosquitto
    from tests.fixtures.serial import socat_pty_pair

    state = work / "state"
    with Mosquitto(work / "broker") as broker, socat_pty_pair() as (sim_port, agent_port):
        spec, doc = parse_spec(SIM_SPEC.format(port=sim_port), "<demo simulator>")
        with run_in_thread(*build_servers(spec, doc)), broker.collector("#") as sub:
            config = work / "config.yaml"
            config.write_text(POLE_CONFIG.format(state=state, port=agent_port, mqtt_port=broker.port,
                                                 namespace=namespace))
            with (work / "agent.log").open("wb") as log:
                agent = subprocess.Popen([sys.executable, "-m", "agent.cli.main", "--config", str(config), "run"],
                                         stderr=log, cwd=ROOT)
                try:
                    time.sleep(warmup_s)  # the first poll reports every point once: not the steady state
                    start, first = time.monotonic(), len(sub.snapshot())
                    time.sleep(seconds)
                    elapsed, window = time.monotonic() - start, sub.snapshot()[first:]
                finally:
                    agent.send_signal(signal.SIGTERM)
                    try:
                        agent.wait(30)
                    except subprocess.TimeoutExpired:
                        agent.kill()
    own = [m for m in window if m.topic.startswith(("edgepost/", "spBv1.0/"))]
    if not own:
        raise RuntimeError(f"the pole published nothing; see {work / 'agent.log'}")
    payload = sum(len(m.payload) for m in own)
    wire = sum(wire_bytes(m) for m in own)
    n_records = sum(count_records(m.topic, m.payload) for m in own)
    return {"messages_s": len(own) / elapsed, "records_s": n_records / elapsed,
            "payload_Bps": payload / elapsed, "wire_Bps": wire / elapsed, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pole-seconds", type=float, default=0.0, help="also measure a pole this long (0: skip)")
    parser.add_argument("--warmup-s", type=float, default=30.0)
    args = parser.parse_args()
    bytes_per_record()
    if args.pole_seconds <= 0:
        return
    print(f"\none pole at default settings, {args.pole_seconds:.0f} s after a {args.warmup_s:.0f} s warm-up, "
          "counted at the broker:")
    print("namespace | messages/s | records/s | payload B/s | MQTT B/s (framed, + PUBACK)")
    for namespace in ("json", "sparkplug"):
        with tempfile.TemporaryDirectory(prefix="edgepost-pole-") as tmp:
            m = measure_pole(namespace, args.pole_seconds, args.warmup_s, Path(tmp))
        print(f"{namespace:9s} | {m['messages_s']:10.3f} | {m['records_s']:9.3f} | {m['payload_Bps']:11.1f} | "
              f"{m['wire_Bps']:.1f}")


if __name__ == "__main__":
    main()
