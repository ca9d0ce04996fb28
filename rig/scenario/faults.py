"""The timeline: faults (and stimuli such as a manhole tilt), one model per kind, discriminated on ``fault:``.

Every entry starts ``at`` seconds into the run (or ``repeat`` times at seeded random moments in
``[at, at + random_within_s]``) and, where it makes sense, lasts ``for_s``. ``--short`` multiplies
every time by the scenario's ``short.scale`` (see ``Scenario.shortened``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from rig.scenario.base import NAME_PATTERN, Strict


class FaultBase(Strict):
    at: float = Field(0.0, ge=0, description="seconds after the pole is up")
    for_s: float = Field(0.0, ge=0, description="how long the fault lasts (0: a one-off action)")
    repeat: int = Field(1, ge=1, le=100)
    random_within_s: float | None = Field(None, gt=0, description="draw the start times in [at, at+this]")

    # time fields that --short compresses besides at/for_s/random_within_s
    scaled_fields: ClassVar[tuple[str, ...]] = ()


class BrokerDown(FaultBase):
    fault: Literal["broker_down"]


class BrokerRestart(FaultBase):
    fault: Literal["broker_restart"]
    lose_sessions: bool = Field(True, description="the broker comes back with no sessions and no queues")


class LinkStall(FaultBase):
    fault: Literal["link_stall"]


class LinkBlackhole(FaultBase):
    fault: Literal["link_blackhole"]


class LinkThrottle(FaultBase):
    fault: Literal["link_throttle"]
    bytes_per_s: float = Field(2000.0, gt=0, description="each way; NB-IoT is a few kB/s")
    latency_ms: float = Field(300.0, ge=0)


class AgentKill9(FaultBase):
    fault: Literal["agent_kill9"]
    restart_after_s: float = Field(1.0, ge=0)


class AgentSigtermDrain(FaultBase):
    fault: Literal["agent_sigterm_drain"]
    outage_s: float = Field(10.0, gt=0, description="broker down this long first, to build a backlog")
    scaled_fields: ClassVar[tuple[str, ...]] = ("outage_s",)


class ConfigInvalidStart(FaultBase):
    fault: Literal["config_invalid_start"]


class ConfigInvalidSighup(FaultBase):
    fault: Literal["config_invalid_sighup"]


class DiskFull(FaultBase):
    fault: Literal["disk_full"]


class ReadonlyFs(FaultBase):
    fault: Literal["readonly_fs"]


class OutboxCorrupt(FaultBase):
    fault: Literal["outbox_corrupt"]


class BusNoise(FaultBase):
    fault: Literal["bus_noise"]
    device: str = Field(pattern=NAME_PATTERN)
    probability: float = Field(0.3, gt=0, le=1, description="share of replies with a broken CRC")


class DeviceSilent(FaultBase):
    fault: Literal["device_silent"]
    device: str = Field(pattern=NAME_PATTERN)


class DeviceSlow(FaultBase):
    fault: Literal["device_slow"]
    device: str = Field(pattern=NAME_PATTERN)
    delay_ms: float = Field(800.0, gt=0, description="extra turnaround; above the bus timeout")


class PortUnplug(FaultBase):
    fault: Literal["port_unplug"]
    bus: str = Field(pattern=NAME_PATTERN)


class FirmwareSwap(FaultBase):
    fault: Literal["firmware_swap"]
    device: str = Field(pattern=NAME_PATTERN)
    profile: str = Field(min_length=1, description="the profile of the device put in its place")
    firmware: str | None = None


class ClockJump(FaultBase):
    fault: Literal["clock_jump"]
    offset_s: float = Field(description="wall-clock jump seen by the agent; negative goes back")


class CommandFuzz(FaultBase):
    fault: Literal["command_fuzz"]
    count: int = Field(60, ge=1, le=100_000)


class CommandFlood(FaultBase):
    fault: Literal["command_flood"]
    count: int = Field(500, ge=1, le=1_000_000)
    per_s: float = Field(200.0, gt=0)
    command: Literal["ping", "read_point"] = Field("ping", description="read_point goes to the device and back")
    device: str | None = Field(None, pattern=NAME_PATTERN, description="read_point: the device")
    point: str | None = Field(None, description="read_point: the point")

    @model_validator(mode="after")
    def _read_point_target(self) -> CommandFlood:
        if self.command == "read_point" and (self.device is None or self.point is None):
            raise ValueError("command: read_point needs device and point")
        return self


class TlsBadCert(FaultBase):
    fault: Literal["tls_bad_cert"]
    variant: Literal["bad", "expired", "wrong_ca"]


class CameraDown(FaultBase):
    fault: Literal["camera_down"]
    camera: str = Field(pattern=NAME_PATTERN)


class Tilt(FaultBase):
    """A stimulus, not a fault: the simulated point jumps to ``value`` (alarm latency is measured)."""

    fault: Literal["tilt"]
    device: str = Field(pattern=NAME_PATTERN)
    point: str = "roll"
    value: float = 15.0


FaultSpec = Annotated[
    BrokerDown | BrokerRestart | LinkStall | LinkBlackhole | LinkThrottle | AgentKill9 | AgentSigtermDrain
    | ConfigInvalidStart | ConfigInvalidSighup | DiskFull | ReadonlyFs | OutboxCorrupt | BusNoise
    | DeviceSilent | DeviceSlow | PortUnplug | FirmwareSwap | ClockJump | CommandFuzz | CommandFlood
    | TlsBadCert | CameraDown | Tilt,
    Field(discriminator="fault"),
]


def scaled(spec: FaultBase, scale: float, min_for_s: float = 1.0) -> FaultBase:
    """``spec`` with its times multiplied by ``scale`` (durations kept at ``min_for_s`` or more)."""
    update: dict[str, float | None] = {"at": spec.at * scale}
    if spec.for_s:
        update["for_s"] = max(spec.for_s * scale, min_for_s)
    if spec.random_within_s is not None:
        update["random_within_s"] = max(spec.random_within_s * scale, min_for_s)
    for name in spec.scaled_fields:
        update[name] = max(float(getattr(spec, name)) * scale, min_for_s)
    return spec.model_copy(update=update)
