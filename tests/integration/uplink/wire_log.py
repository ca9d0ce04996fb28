"""What a client put on the wire, as mosquitto's debug log tells it (mosquitto 2.0 line formats).

A subscriber cannot see how a message was published: the broker delivers at min(publish QoS,
subscription QoS) and clears the retain flag on live deliveries. mosquitto's own log (``log_type
debug``) records every packet it received, with its flags:

    New client connected from 127.0.0.1:50915 as edgepost-gw1 (p5, c1, k30).
    Will message specified (27 bytes) (r0, q1).
    <TAB>spBv1.0/poles/NDEATH/gw1
    Received SUBSCRIBE from edgepost-gw1
    <TAB>spBv1.0/poles/NCMD/gw1 (QoS 1)
    Received PUBLISH from edgepost-gw1 (d0, q0, r0, m0, 'spBv1.0/poles/NBIRTH/gw1', ... (95 bytes))
    Received DISCONNECT from edgepost-gw1
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.mosquitto import Mosquitto

CONNECTED = re.compile(r"New client connected from \S+ as (\S+) \(p(\d), c(\d), k\d+")
WILL = re.compile(r"Will message specified \(\d+ bytes\) \(r(\d), q(\d)\)\.")
PUBLISH = re.compile(r"Received PUBLISH from (\S+) \(d\d, q(\d), r(\d), m\d+, '([^']*)'")
SUBSCRIBE = re.compile(r"Received SUBSCRIBE from (\S+)$")
SUBSCRIPTION = re.compile(r"^\t(\S+) \(QoS (\d)\)$")
DISCONNECT = re.compile(r"Received DISCONNECT from (\S+)$")


class WireMosquitto(Mosquitto):
    """mosquitto that logs every packet it receives (its own config file, as every test broker)."""

    def _config(self) -> str:
        return super()._config() + "log_type debug\n"


@dataclass(frozen=True)
class Packet:
    kind: str  # CONNECT, WILL, SUBSCRIBE, PUBLISH, DISCONNECT
    topic: str = ""
    qos: int = -1
    retain: bool = False
    protocol: int = 0  # CONNECT: 2 (MQTT 3.1.1) or 5
    clean: bool = False  # CONNECT: clean session / clean start


def packets(log: Path, client_id: str) -> list[Packet]:
    """The packets ``client_id`` sent, in the order the broker received them."""
    out: list[Packet] = []
    lines = [line.split(": ", 1)[1] if ": " in line else line for line in log.read_text().splitlines()]
    current: str | None = None  # the client of the last CONNECT or SUBSCRIBE line (their details follow)
    for i, line in enumerate(lines):
        if m := CONNECTED.search(line):
            current = m.group(1)
            if current == client_id:
                out.append(Packet("CONNECT", protocol=int(m.group(2)), clean=m.group(3) == "1"))
        elif (m := WILL.search(line)) and current == client_id:
            topic = lines[i + 1].strip() if i + 1 < len(lines) else ""
            out.append(Packet("WILL", topic, int(m.group(2)), m.group(1) == "1"))
        elif m := SUBSCRIBE.search(line):
            current = m.group(1)
        elif (m := SUBSCRIPTION.match(line)) and current == client_id:
            out.append(Packet("SUBSCRIBE", m.group(1), int(m.group(2))))
        elif (m := PUBLISH.search(line)) and m.group(1) == client_id:
            out.append(Packet("PUBLISH", m.group(4), int(m.group(2)), m.group(3) == "1"))
        elif (m := DISCONNECT.search(line)) and m.group(1) == client_id:
            out.append(Packet("DISCONNECT"))
    return out


def verb(topic: str) -> str:
    """NBIRTH, DDATA, ... of a ``spBv1.0/group/VERB/node[/device]`` topic ("" for any other)."""
    parts = topic.split("/")
    return parts[2] if len(parts) > 3 and parts[0] == "spBv1.0" else ""
