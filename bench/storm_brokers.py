"""The brokers of the reconnect-storm bench, and their own count of the connects they accepted.

The broker's log is the honest place to count a storm: a client's clock says when *its* CONNACK was
processed, which, on a saturated machine, can be long after the broker accepted it (and bunched with
others). Each broker logs two moments per connection: the TCP accept (``arrivals``: the load the
fleet puts on the broker, what the jitter shapes) and the accepted MQTT CONNECT (``connects``: later
when the broker holds CONNECTs, as a NATS cluster does until JetStream is ready). Accepted CONNECTs:

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

from rig.pole.ports import port_open as _port_open
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.nats_cluster import NatsCluster

MOSQUITTO_CONNECT = re.compile(r"^(\d+): New client connected from (\S+) as (\S+) ")
MOSQUITTO_ACCEPT = re.compile(r"^(\d+): New connection from (\S+) on port")
NATS_LINE = re.compile(r"^\[\d+\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+) \[\w+\] \S+ - mid:(\d+) - "
                       r"(?:\"([^\"]+)\" - )?(.*)$")


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

    def victims(self) -> list[int]:
        return self.ports

    def stop(self) -> None:
        """SIGTERM: mosquitto closes every connection, as a restart for an upgrade does."""
        self.broker.stop()

    def close(self) -> None:
        self.broker.stop()

    def connects(self, prefix: str) -> list[tuple[str, float]]:
        """(client id, broker time) of every accepted CONNECT of clients whose id starts with ``prefix``."""
        return self._parse(prefix)[1]

    def arrivals(self, prefix: str) -> list[tuple[str, float]]:
        """(client id, broker time) of the TCP accept of each of those connections."""
        return self._parse(prefix)[0]

    def _parse(self, prefix: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        arrivals, connects = [], []
        accepted: dict[str, float] = {}  # peer address -> time of its latest TCP accept
        text = self.broker.log.read_text() if self.broker.log.exists() else ""
        for line in text.splitlines():
            if m := MOSQUITTO_ACCEPT.match(line):
                accepted[m.group(2)] = float(m.group(1))
            elif (m := MOSQUITTO_CONNECT.match(line)) and m.group(3).startswith(prefix):
                connects.append((m.group(3), float(m.group(1))))
                arrivals.append((m.group(3), accepted.get(m.group(2), float(m.group(1)))))
        return arrivals, connects


class StormNats:
    """The 3-node NATS cluster (JetStream + MQTT on every node), debug logging on for the connect lines.

    A restart kills every node (-9) and starts them again: sessions and messages live in JetStream
    files, so the upstream subscriber's session survives."""

    name = "nats"

    def __init__(self, workdir: Path, kill: str = "all") -> None:
        self.kill = kill  # "all": the whole cluster restarts; "one": the first node does, its clients move
        self.cluster = NatsCluster(workdir)
        for node in self.cluster.nodes:
            node.conf.write_text(node.conf.read_text() + "debug: true\nlogtime: true\n")
        self.ports = [n.mqtt_port for n in self.cluster.nodes]

    @property
    def subscriber_port(self) -> int:
        """A node that survives a one-node kill."""
        return self.cluster.nodes[-1].mqtt_port

    def start(self) -> None:
        """The whole cluster the first time, afterwards the nodes that were killed."""
        if not any(n.running for n in self.cluster.nodes):
            self.cluster.start()
            return
        dead = [n for n in self.cluster.nodes if not n.running]
        for node in dead:
            node.start()
        deadline = time.monotonic() + 60
        while not all(_port_open(n.mqtt_port) for n in dead):
            if time.monotonic() > deadline:
                raise TimeoutError("a restarted NATS node did not open its MQTT port")
            time.sleep(0.05)

    def victims(self) -> list[int]:
        """Ports whose gateways lose their broker."""
        return self.ports[:1] if self.kill == "one" else self.ports

    def stop(self) -> None:
        for node in self.cluster.nodes[:1] if self.kill == "one" else self.cluster.nodes:
            node.kill9()

    def close(self) -> None:
        self.cluster.stop()

    def connects(self, prefix: str) -> list[tuple[str, float]]:
        return self._parse(prefix)[1]

    def arrivals(self, prefix: str) -> list[tuple[str, float]]:
        """TCP accepts of the storm's connections, whatever became of their CONNECT."""
        return self._parse(prefix)[0]

    def _parse(self, prefix: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        arrivals, connects = [], []
        for node in self.cluster.nodes:
            log = node.workdir / "nats.log"
            if not log.exists():
                continue
            created: dict[str, float] = {}  # mid -> time of "Client connection created"
            named: set[str] = set()
            for line in log.read_text(errors="replace").splitlines():
                m = NATS_LINE.match(line)
                if m is None:
                    continue
                when = datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S.%f")
                t = time.mktime(when.timetuple()) + when.microsecond / 1e6
                mid, client, what = m.group(2), m.group(3), m.group(4)
                if what == "Client connection created":  # mids restart with the server: the latest counts
                    created[mid] = t
                    named.discard(mid)
                elif client and client.startswith(prefix):
                    if mid in created and mid not in named:
                        named.add(mid)
                        arrivals.append((client, created[mid]))
                    if what == "Client connected":
                        connects.append((client, t))
        return arrivals, connects
