"""The agent's config.yaml for a pole: drivers from the buses and cameras, the uplink through the link
proxy, then the scenario's own ``pole.agent.config`` merged on top (it wins)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from rig.scenario.pole import BusSpec, PoleSpec


@dataclass(frozen=True)
class Endpoints:
    """Where the agent finds what the rig stood up."""

    broker_port: int
    state_dir: Path
    control_socket: Path
    bus_ports: Mapping[str, str] = field(default_factory=dict)  # bus -> pty path or host:port
    camera_urls: Mapping[str, str] = field(default_factory=dict)
    tls: Mapping[str, str] | None = None  # ca_file/cert_file/key_file


def build_config(pole: PoleSpec, where: Endpoints) -> dict[str, Any]:
    drivers: list[dict[str, Any]] = []
    if pole.buses:
        drivers.append({
            "driver": "modbus",
            "name": "rs485",
            "offline_after": 2,
            "backoff_max_s": 2.0,
            "buses": [_bus(bus, where.bus_ports[bus.name]) for bus in pole.buses],
            "devices": [
                {
                    "name": d.name, "bus": bus.name, "unit_id": d.unit, "profile": d.profile,
                    **({"firmware": d.firmware} if d.firmware else {}),
                    # the scenario's period_s is the rate of every polled point: a device's period_s
                    # alone would yield to each point's own profile period
                    "period_s": d.period_s, "points": {name: {"period": d.period_s} for name in d.polled},
                }
                for bus in pole.buses for d in bus.devices
            ],
        })
    if pole.cameras:
        drivers.append({
            "driver": "camera",
            "name": "cameras",
            "cameras": [
                {"name": c.name, "source": where.camera_urls[c.name], "inference": None, "stall_timeout_s": 5.0,
                 "reopen_backoff_max_s": 5.0, **c.options}
                for c in pole.cameras
            ],
        })
    uplink: dict[str, Any] = {
        "host": "127.0.0.1", "port": where.broker_port, "keepalive_s": 5,
        "reconnect_min_s": 0.2, "reconnect_max_s": 2.0,
    }
    if where.tls is not None:
        uplink["tls"] = dict(where.tls)
    if pole.broker.external is not None:
        uplink.update(host=pole.broker.external.host, port=pole.broker.external.port, **pole.broker.external.uplink)
    base: dict[str, Any] = {
        "gateway": {"id": pole.gateway, "site": "edgepost rig"},
        "state_dir": str(where.state_dir),
        "drivers": drivers,
        "uplink": uplink,
        "control": {"socket": str(where.control_socket), "group": None},
        "logging": {"level": "info", "rate_limit_s": 5.0},
    }
    return merge(base, pole.agent.config)


def _bus(bus: BusSpec, endpoint: str) -> dict[str, Any]:
    common: dict[str, Any] = {"name": bus.name, "timeout_s": bus.timeout_s}
    if bus.retries is not None:
        common["retries"] = bus.retries
    if bus.kind == "serial":
        return {**common, "transport": "serial", "port": endpoint, "baudrate": bus.baud}
    host, _, port = endpoint.rpartition(":")
    return {**common, "transport": bus.kind, "host": host or "127.0.0.1", "port": int(port)}


def merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Nested mappings merge key by key; anything else in ``overlay`` replaces the base value."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def to_yaml(config: Mapping[str, Any]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(_plain(config), stream)
    return stream.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path | str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)  # ruamel's ScalarInt/ScalarFloat from a scenario file: plain numbers
    if isinstance(value, float):
        return float(value)
    return value


def broken(text: str) -> str:
    """The same config with one invalid value (a gateway id with spaces): the agent must name file:line."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("id:") and i > 0 and lines[i - 1].strip() == "gateway:":
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = f"{indent}id: not a valid id!"
            return "\n".join(lines) + "\n"
    raise ValueError("no gateway.id line to break")
