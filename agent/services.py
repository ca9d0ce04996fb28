"""The running services of one agent and their start/stop/reconfigure order.

Kept apart from ``daemon.py`` (signals, the Runtime facade) so each file holds one idea: this one
knows which component depends on which.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.commands.dispatcher import CommandDispatcher
from agent.config import AgentConfigBase
from agent.control.server import ControlServer
from agent.driver_host import DriverHost
from agent.logs import RateLimiter, log_event, log_limited
from agent.outbox.store import Outbox
from agent.pipeline.alarm_state import AlarmJournal
from agent.pipeline.alarms import AlarmEvaluator
from agent.pipeline.care.engine import CARE
from agent.pipeline.care.keeper import CareKeeper
from agent.pipeline.pipeline import Pipeline
from agent.private_files import secure_state_dir
from agent.records import JsonValue
from agent.sdnotify import Notifier
from agent.supervisor import LoopHealth, Supervisor
from agent.uplink.uplink import Uplink
from drivers.base import Driver, DriverContext

if TYPE_CHECKING:
    from agent.metrics.service import MetricsService
    from agent.runtime import Runtime
    from agent.uplink.sparkplug.catalog import DeviceDecl

log = logging.getLogger(__name__)

DRIVER_OPEN_WAIT_S = 15.0


class Services:
    def __init__(self, config: AgentConfigBase, runtime: Runtime) -> None:
        self.config = config
        self._runtime = runtime
        self.supervisor = Supervisor()
        self.health = LoopHealth()
        self.notifier = Notifier()
        self._outbox: Outbox | None = None
        self._pipeline: Pipeline | None = None
        self._care: CareKeeper | None = None
        self._host: DriverHost | None = None
        self.uplink: Uplink | None = None
        self.commands: CommandDispatcher | None = None
        self.control: ControlServer | None = None
        self.metrics: MetricsService | None = None
        self.started_at = time.time()
        self._limiter = RateLimiter(10.0)

    # Components exist once start() ran; the properties make a misuse fail loudly instead of None errors.
    @property
    def outbox(self) -> Outbox:
        assert self._outbox is not None, "services not started"
        return self._outbox

    @property
    def pipeline(self) -> Pipeline:
        assert self._pipeline is not None, "services not started"
        return self._pipeline

    @property
    def care_keeper(self) -> CareKeeper:
        assert self._care is not None, "services not started"
        return self._care

    @property
    def host(self) -> DriverHost:
        assert self._host is not None, "services not started"
        return self._host

    def _context(self, name: str) -> DriverContext:
        return DriverContext(
            gateway_id=self.config.gateway.id,
            state_dir=self.config.state_dir,
            config_dir=self._runtime.config_path.parent,
            logger=logging.getLogger(f"drivers.{name}"),
            profile_dirs=tuple(self.config.profile_dirs) if self.config.profile_dirs is not None else None,
            inventory_changed=self.resend_birth,
        )

    async def start(self) -> None:
        cfg = self.config
        secure_state_dir(cfg.state_dir)
        self._outbox = await Outbox.open(cfg.state_dir, cfg.outbox, cfg.gateway.id)
        self.supervisor.start("outbox", self._outbox.keep_writing)
        journal = await AlarmJournal.open(self._outbox, cfg.state_dir)  # alarms active when the agent stopped
        self._care = await CareKeeper.open(cfg.state_dir, journal.active_of(CARE), cfg.care.save_interval_s)
        self._pipeline = Pipeline(journal, cfg.pipeline.heartbeat_s, cfg.pipeline.queue_size,
                                  alarms=AlarmEvaluator(journal.active - journal.active_of(CARE)), care=self._care)
        await self._pipeline.apply_care(cfg.care.rules())  # a care rule removed while the agent was down clears
        self.supervisor.start("pipeline", self._pipeline.run)
        self.supervisor.start("care.state", self._care.run)
        self._host = DriverHost(self.supervisor, self._pipeline, self._context)
        self._start_uplink(self._build_uplink(cfg))
        self._host.start(self._host.build(list(cfg.drivers)))
        # alarms of devices removed from the config while the agent was down are cleared upstream
        configured = {info.name for info in self._host.inventory()}
        await self._pipeline.forget({device for device, _, _ in journal.active} - configured)
        self.control = ControlServer(self._runtime, cfg.control.socket, cfg.control.group)
        await self.control.start()
        if cfg.metrics.prometheus_port is not None or cfg.metrics.textfile is not None:
            # prometheus_client and the HTTP server are imported only where metrics are asked for
            from agent.metrics.service import MetricsService

            self.metrics = MetricsService(self._runtime, cfg.metrics)
            await self.metrics.start()
            if cfg.metrics.textfile is not None:
                self.supervisor.start("metrics.textfile", self.metrics.textfile_loop)
        await self._host.wait_started(DRIVER_OPEN_WAIT_S)
        self._warn_unknown_care_devices(cfg)
        self.notifier.ready(f"{len(self._host.drivers)} drivers, outbox at seq {self._outbox.last_seq}")
        self.supervisor.start("loop-health", lambda: self.health.run(self._feed_watchdog))

    def _warn_unknown_care_devices(self, cfg: AgentConfigBase) -> None:
        """Care rules on devices no running driver reports. The config loader cannot tell when a driver
        knows its devices only once it runs; such a rule never sees a reading, so say it."""
        running = {info.name for info in self.host.inventory()}
        for device in sorted({rule.device for rule in cfg.care.rules()} - running):
            log_event(log, "care_device_unknown", logging.WARNING, device=device)

    def _feed_watchdog(self) -> None:
        """WATCHDOG=1 only while records can flow: the pipeline task runs and the outbox writer is
        alive and not stuck; otherwise systemd restarts the service after WatchdogSec."""
        problem = self._unhealthy()
        if problem is None:
            self.notifier.watchdog()
        else:
            log_limited(self._limiter, log, "watchdog", "watchdog_withheld", logging.ERROR, reason=problem)

    def _unhealthy(self) -> str | None:
        pipeline = self.supervisor.states.get("pipeline")
        if pipeline is None or not pipeline.running:
            return "pipeline task not running"
        return self.outbox.health()

    def _build_uplink(self, cfg: AgentConfigBase) -> tuple[Uplink | None, CommandDispatcher | None]:
        """Construct (not start) the uplink and its command dispatcher; raises before anything is replaced."""
        if not cfg.uplink.enabled:
            return None, None
        commands = CommandDispatcher(cfg.commands, self, cfg.state_dir, self.outbox) if cfg.commands.enabled else None
        uplink = Uplink(
            cfg.uplink,
            cfg.outbox,
            cfg.gateway.id,
            self.outbox,
            birth_provider=self.birth,
            command_handler=commands.submit if commands else None,
            command_answerer=commands.handle_message if commands else None,
            devices_provider=self.sparkplug_devices,
        )
        return uplink, commands

    def _start_uplink(self, built: tuple[Uplink | None, CommandDispatcher | None]) -> None:
        self.uplink, self.commands = built
        if self.commands is not None:
            self.commands.start()
        if self.uplink is not None:
            self.supervisor.start("uplink", self.uplink.run)

    async def _stop_uplink(self) -> None:
        if self.uplink is not None:
            await self.uplink.stop()
            if not await self.supervisor.wait("uplink", 6.0):
                log_event(log, "uplink_stop_timeout", logging.WARNING)
            await self.supervisor.stop("uplink")
            self.uplink = None
        if self.commands is not None:
            await self.commands.close()
            self.commands = None

    async def stop(self, timeout_s: float) -> None:
        """SIGTERM path: stop intake, commit what is queued, stop the uplink, close the outbox.

        Each step runs even if an earlier one failed: the drain and the outbox close must never be skipped.
        """
        self.notifier.stopping()
        try:
            if self.control is not None:
                await self.control.stop()
            if self.metrics is not None:
                await self.metrics.stop()
        finally:
            try:
                if self._host is not None:
                    await self._host.stop()
            finally:
                try:
                    if self._pipeline is not None:
                        committed = await self._pipeline.drain(timeout_s / 2)
                        log_event(log, "pipeline_drained", committed=committed, pending=self._pipeline.depth)
                    if self._care is not None:
                        await self._care.save()  # where every care rule stands, for the next start
                finally:
                    try:
                        await self._stop_uplink()
                        await self.supervisor.stop_all()
                    finally:
                        if self._outbox is not None:
                            await self._outbox.close()

    async def reconfigure(self, new: AgentConfigBase) -> None:
        """Apply a new, already validated config. Everything new is built before anything old is stopped,
        so a failure leaves the running config untouched."""
        self.notifier.reloading()
        try:
            if new.outbox != self.config.outbox or new.state_dir != self.config.state_dir:
                log_event(log, "config_change_needs_restart", logging.WARNING, section="outbox/state_dir")
            drivers = self.host.build(list(new.drivers)) if new.drivers != self.config.drivers else None
            uplink_changed = new.uplink != self.config.uplink or new.commands != self.config.commands
            built = self._build_uplink(new) if uplink_changed else None
            if drivers is not None:
                before = {info.name for info in self.host.inventory()}
                await self.host.stop()
                self.host.start(drivers)
                await self.host.wait_started(DRIVER_OPEN_WAIT_S)
                await self.pipeline.forget(before - {info.name for info in self.host.inventory()})
            else:
                for driver in self.host.drivers.values():
                    driver.retry_now()  # a reload is often "I plugged it in": don't wait out a back-off
            if new.care != self.config.care:
                self.care_keeper.save_every_s = new.care.save_interval_s
                await self.pipeline.apply_care(new.care.rules())
            if drivers is not None or new.care != self.config.care:
                self._warn_unknown_care_devices(new)
            if built is not None:
                await self._stop_uplink()
                self._start_uplink(built)
            self.config = new
            if self.uplink is not None:
                self.uplink.request_birth()
        finally:
            self.notifier.ready()

    # --- used by commands (CommandTargets) and the uplink ------------------------------------------
    def driver_for(self, device: str) -> Driver[Any] | None:
        return self.host.driver_for(device)

    def all_drivers(self) -> list[Driver[Any]]:
        return list(self.host.drivers.values())

    def resend_birth(self) -> None:
        if self.uplink is not None:
            self.uplink.request_birth()

    def sync_now(self) -> None:
        if self.uplink is not None:
            self.uplink.sync_now()

    def sparkplug_devices(self) -> list[DeviceDecl]:
        """Every device with its declared points, for Sparkplug DBIRTH/DDEATH."""
        from agent.uplink.sparkplug.catalog import DeviceDecl, PointDecl  # protobuf: only for Sparkplug

        out: list[DeviceDecl] = []
        for driver in self.host.drivers.values():
            for info in driver.inventory():
                points = tuple(PointDecl(p.name, p.type, p.unit, p.low, p.high, p.writable)
                               for p in driver.point_specs(info.name))
                out.append(DeviceDecl(info.name, info.state, points))
        return out

    def birth(self) -> dict[str, JsonValue]:
        devices: list[JsonValue] = []
        for info in self.host.inventory():
            devices.append({k: v for k, v in asdict(info).items()})
        return {
            "gateway": self.config.gateway.id,
            "site": self.config.gateway.site,
            "version": __version__,
            "started_at": self.started_at,
            "devices": devices,
        }

    def status(self) -> dict[str, JsonValue]:
        counters = self.pipeline.counters
        return {
            "gateway": self.config.gateway.id,
            "version": __version__,
            "uptime_s": round(time.time() - self.started_at, 1),
            "loop_lag_ms": round(self.health.lag_s * 1000, 1),
            "drivers": {name: driver.status() for name, driver in self.host.drivers.items()},
            "tasks": {
                name: {"running": s.running, "restarts": s.restarts, "last_error": s.last_error}
                for name, s in self.supervisor.states.items()
            },
            "pipeline": {
                "received": counters.received,
                "suppressed": counters.suppressed,
                "alarms": counters.alarms,
                "accepted": counters.accepted,
                "outbox_full": counters.outbox_full,
                "queued": self.pipeline.depth,
                "active_alarms": [".".join(a) for a in sorted(self.pipeline.active_alarms)],
            },
            "uplink": self.uplink.status() if self.uplink is not None else {"state": "disabled"},
        }
