"""The agent's one config file: pydantic models and a loader that reports file:line errors.

The ``drivers:`` list is a discriminated union on ``driver:`` over every registered driver's own
config model, built once from the ``edgepost.drivers`` entry points.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from agent.commands.config import CommandsConfig
from agent.config_dropins import load_with_dropins
from agent.errors import ConfigError, DriverNotFound
from agent.outbox.config import OutboxConfig
from agent.pipeline.care.config import CareConfig, split_point_key
from agent.uplink.config import UplinkConfig
from agent.yamlsource import YamlDocument, format_path, parse_yaml, validation_problems
from drivers.base import DriverConfigBase
from drivers.registry import driver_names, load_config_model, load_driver_class

DEFAULT_CONFIG_PATH = Path("/etc/edgepost/config.yaml")


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    site: str = ""


class LoggingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["logfmt", "json"] = "logfmt"
    rate_limit_s: float = Field(60.0, ge=0, description="identical repeated lines are folded this long")


class ControlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    socket: Path = Path("/run/edgepost/control.sock")
    group: str | None = "edgepost"


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prometheus_port: int | None = Field(None, ge=1, le=65535, description="listen on 127.0.0.1 only")
    textfile: Path | None = Field(None, description="node-exporter textfile collector output")
    interval_s: float = Field(15.0, gt=0)


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    heartbeat_s: float = Field(
        300.0, gt=0, description="a point unchanged within its deadband is still reported this often"
    )
    queue_size: int = Field(10_000, ge=10, description="records waiting for the outbox before drivers block")


class _ProfileDirs(BaseModel):
    model_config = ConfigDict(frozen=True)

    profile_dirs: list[Path] | None = Field(
        None,
        description="site firmware-profile directories, searched in order before the shipped ones "
        "(a site profile with a shipped id overrides it); default: /etc/edgepost/profiles",
    )

    @field_validator("profile_dirs")
    @classmethod
    def _absolute_dirs(cls, dirs: list[Path] | None) -> list[Path] | None:
        for path in dirs or ():
            if not path.is_absolute():
                raise ValueError(f"{str(path)!r} is relative: give an absolute path (the service runs from /)")
        return dirs


class AgentConfigBase(_ProfileDirs):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway: GatewayConfig
    state_dir: Path = Path("/var/lib/edgepost")
    drivers: list[DriverConfigBase] = Field(default_factory=list)
    pipeline: PipelineConfig = PipelineConfig()
    care: CareConfig = CareConfig()
    outbox: OutboxConfig = OutboxConfig()
    uplink: UplinkConfig = UplinkConfig()
    commands: CommandsConfig = CommandsConfig()
    logging: LoggingConfig = LoggingConfig()
    control: ControlConfig = ControlConfig()
    metrics: MetricsConfig = MetricsConfig()

    @model_validator(mode="after")
    def _unique_driver_names(self) -> AgentConfigBase:
        seen: set[str] = set()
        for entry in self.drivers:
            if entry.name in seen:
                raise ValueError(f"two drivers are named {entry.name!r}; names must be unique")
            seen.add(entry.name)
        return self


@cache
def agent_config_model(names: tuple[str, ...] | None = None) -> type[AgentConfigBase]:
    """The full config model: ``drivers`` typed as the union of the registered driver configs ``names``
    (default: all of them). Building a driver's config model costs memory for the daemon's lifetime:
    ``validate_document`` asks only for the drivers a config names."""
    models = tuple(load_config_model(name) for name in (driver_names() if names is None else names))
    tagged = len(models) > 1 or names is not None
    entry: Any = Annotated[Union[models], Field(discriminator="driver")] if tagged else models[0]  # noqa: UP007
    model: type[AgentConfigBase] = create_model(
        "AgentConfig",
        __base__=AgentConfigBase,
        drivers=(list[entry], Field(default_factory=list)),
    )
    return model


def named_drivers(data: dict[str, Any]) -> tuple[str, ...] | None:
    """The registered drivers a config's ``drivers`` entries name; None (all of them) unless every entry
    names one, so a missing or unknown ``driver`` is reported against every known driver."""
    entries = data.get("drivers")
    if not isinstance(entries, list) or not entries:
        return None
    names = {entry.get("driver") if isinstance(entry, dict) and isinstance(entry.get("driver"), str) else None
             for entry in entries}
    known = set(driver_names())
    if not names <= known:
        return None
    return tuple(sorted(name for name in names if isinstance(name, str)))


def validate_document(doc: YamlDocument, base_dir: Path | None = None) -> AgentConfigBase:
    if not isinstance(doc.data, dict):
        raise ConfigError([f"{doc.where(())} <document>: expected a mapping of config sections"])
    model = agent_config_model(named_drivers(doc.data))
    try:
        config = model.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc, model=model)) from None
    problems = reference_problems(doc, config)
    if problems:
        raise ConfigError(problems)
    return config


def reference_problems(doc: YamlDocument, config: AgentConfigBase) -> list[str]:
    """What each configured driver finds wrong beyond the schema (unknown profiles, points, models),
    and care rules on points no driver reports."""
    problems: list[str] = []
    declared: dict[str, frozenset[str]] = {}
    complete = True  # every driver could say which devices and points it has
    for index, entry in enumerate(config.drivers):
        try:
            driver_class = load_driver_class(str(getattr(entry, "driver", "")))
        except DriverNotFound as exc:
            problems.append(f"{doc.where(('drivers', index))} drivers[{index}]: {exc}")
            continue
        dirs = tuple(config.profile_dirs) if config.profile_dirs is not None else None
        for path, message in driver_class.check_config(entry, profile_dirs=dirs):
            full = ("drivers", index, *path)
            problems.append(f"{doc.where(full)} {format_path(full)}: {message}")
        points = driver_class.configured_points(entry)
        if points is None:
            complete = False
        else:
            declared |= points
    for path, message in care_reference_problems(config.care, declared, complete):
        problems.append(f"{doc.where(path)} {format_path(path)}: {message}")
    return problems


def care_reference_problems(
    care: CareConfig, declared: dict[str, frozenset[str]], complete: bool
) -> list[tuple[tuple[str | int, ...], str]]:
    """Care rules whose device or point no driver declares. Unless ``complete`` (a driver can only
    tell once it runs), an unknown device may be that driver's: only a missing point is a problem."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for key in care.points:
        device, point = split_point_key(key)
        path = ("care", "points", key)
        known = declared.get(device)
        if known is None:
            if complete:
                names = ", ".join(sorted(declared)) or "none"
                problems.append((path, f"no device {device!r} in the drivers' config (devices: {names})"))
        elif point not in known:
            names = ", ".join(sorted(known)) or "none"
            problems.append((path, f"device {device!r} reports no point {point!r} (its points: {names})"))
    return problems


def parse_config(text: str, source: str = "<config>") -> AgentConfigBase:
    try:
        doc = parse_yaml(text, source)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    return validate_document(doc)


def read_profile_dirs(path: Path) -> list[Path] | None:
    """Only the ``profile_dirs`` of a config file, for CLI commands that need no more of it.

    ``edgepost profile list`` must work while the rest of the config is broken (a device naming a
    profile that does not load yet is exactly when the technician runs it). Raises ``ConfigError``
    when the file cannot be read or the key itself is wrong.
    """
    try:
        doc = load_with_dropins(path)  # a conf.d drop-in may set it
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    if not isinstance(doc.data, dict) or doc.data.get("profile_dirs") is None:
        return None
    try:
        return _ProfileDirs.model_validate({"profile_dirs": doc.data["profile_dirs"]}).profile_dirs
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc)) from None


def load_config(path: Path = DEFAULT_CONFIG_PATH) -> AgentConfigBase:
    """Load ``path`` and its ``conf.d/*.yaml`` drop-ins (agent/config_dropins.py) and validate them.

    Raises ``ConfigError`` whose lines name file:line:col (of the file that set the value) and field.
    """
    try:
        doc = load_with_dropins(path)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    return validate_document(doc)
