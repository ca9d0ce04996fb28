"""The brokers of the reconnect-storm bench, and their own count of the connects they accepted.

The broker's log is the honest place to count a storm: a client's clock says when *its* CONNACK was
processed, which, on a saturated machine, can be long after the broker accepted it (and bunched with
others). Both brokers log one line per accepted MQTT CONNECT:

- mosquitto (``log_type notice``): ``1796660565: New client connected from 127.0.0.1:53343 as storm-7 (p2, c1, k60).``
  (whole seconds, the broker's wall clock);
- nats-server (``debug: true``): ``[pid] 2026/12/07 16:23:10.226341 [DBG] 127.0.0.1:50397 - mid:16 - "storm-7" -
  Client connected`` (microseconds, local time).
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path

from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.nats_cluster import NatsCluster

MOSQUITTO_CONNECT = re.compile(r"^(\d+): New client connected from \S+ as (\S+) ")
NATS_CONNECT = re.compile(r"^\[\d+\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+) \[DBG\] \S+ - mid:\d+ - \"([^\"]+)\" - "
                          r"Client connected$")


class StormMosquitto:
    """mosquitto with persistence (the upstream subscriber's session and queue survive the restart)."""

    name = "mosquitto"

    def __init__(self, workdir: Path) -> None:
        self.broker = Mosquitto(workdir, persistence=True)
        self.ports = [self.broker.port]

    @property
    def subscriber_port(self) -> int:
        return self.broker.port

    def start(self) -> None:
        self.broker.start()

    def stop(self) -> None:
        """SIGTERM: mosquitto closes every connection, as a restart for an upgrade does."""
        self.broker.stop()

    def close(self) -> None:
        self.broker.stop()

    def connects(self, prefix: str) -> list[tuple[str, float]]:
        """(client id, broker time) of every accepted CONNECT of clients whose id starts with ``prefix``."""
        out = []
        text = self.broker.log.read_text() if self.broker.log.exists() else ""
        for line in text.splitlines():
            m = MOSQUITTO_CONNECT.match(line)
            if m and m.group(2).startswith(prefix):
                out.append((m.group(2), float(m.group(1))))
        return out


class StormNats:
    """The 3-node NATS cluster (JetStream + MQTT on every node), debug logging on for the connect lines.

    A restart kills every node (-9) and starts them again: sessions and messages live in JetStream
    files, so the upstream subscriber's session survives."""

    name = "nats"

    def __init__(self, workdir: Path) -> None:
        self.cluster = NatsCluster(workdir)
        for node in self.cluster.nodes:
            node.conf.write_text(node.conf.read_text() + "debug: true\nlogtime: true\n")
        self.ports = [n.mqtt_port for n in self.cluster.nodes]

    @property
    def subscriber_port(self) -> int:
        return self.cluster.nodes[0].mqtt_port

    def start(self) -> None:
        self.cluster.start()

    def stop(self) -> None:
        for node in self.cluster.nodes:
            node.kill9()

    def close(self) -> None:
        self.cluster.stop()

    def connects(self, prefix: str) -> list[tuple[str, float]]:
        out = []
        for node in self.cluster.nodes:
            log = node.workdir / "nats.log"
            if not log.exists():
                continue
            for line in log.read_text(errors="replace").splitlines():
                if "Client connected" not in line:
                    continue
                m = NATS_CONNECT.match(line)
                if m and m.group(2).startswith(prefix):
                    when = datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S.%f")
                    out.append((m.group(2), time.mktime(when.timetuple()) + when.microsecond / 1e6))
        return out
