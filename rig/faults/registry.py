"""Timeline kind -> injector. Each injector performs the whole fault (inject, hold, restore)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rig.faults import agent, broker, bus, camera, clock, downlink, storage, tls
from rig.faults.context import FaultContext, Outcome

Injector = Callable[[FaultContext, Any], Awaitable[Outcome]]

INJECTORS: dict[str, Injector] = {
    "broker_down": broker.broker_down,
    "broker_restart": broker.broker_restart,
    "link_stall": broker.link_stall,
    "link_blackhole": broker.link_blackhole,
    "link_throttle": broker.link_throttle,
    "agent_kill9": agent.agent_kill9,
    "agent_sigterm_drain": agent.agent_sigterm_drain,
    "config_invalid_start": agent.config_invalid_start,
    "config_invalid_sighup": agent.config_invalid_sighup,
    "disk_full": storage.disk_full,
    "readonly_fs": storage.readonly_fs,
    "outbox_corrupt": storage.outbox_corrupt,
    "bus_noise": bus.bus_noise,
    "device_silent": bus.device_silent,
    "device_slow": bus.device_slow,
    "port_unplug": bus.port_unplug,
    "firmware_swap": bus.firmware_swap,
    "tilt": bus.tilt,
    "clock_jump": clock.clock_jump,
    "command_fuzz": downlink.command_fuzz,
    "command_flood": downlink.command_flood,
    "tls_bad_cert": tls.tls_bad_cert,
    "camera_down": camera.camera_down,
}
