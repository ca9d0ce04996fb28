"""The composition root: builds outbox, pipeline, drivers, uplink and control socket, and runs them.

Start-up order follows the data flow backwards (outbox, pipeline, uplink, drivers) so nothing a
driver reads has nowhere to go. Shutdown (SIGTERM) goes forwards: stop intake, commit what the
pipeline holds, stop the uplink, close the outbox. SIGHUP re-reads the config; an invalid one is
refused and the running one stays.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from agent.config import AgentConfigBase, load_config
from agent.errors import ConfigError, EdgepostError
from agent.log_setup import recent_log_path
from agent.logs import log_event, setup_logging
from agent.malloc_tuning import limit_arenas, release_free_memory
from agent.outbox.api import OutboxStats
from agent.private_files import restrict_umask
from agent.records import JsonValue, Record
from agent.services import Services
from drivers.base import Driver

log = logging.getLogger("agent.daemon")

STOP_TIMEOUT_S = 20.0


class Daemon:
    """Implements ``agent.runtime.Runtime`` over the running services."""

    def __init__(self, config: AgentConfigBase, config_path: Path) -> None:
        self._config = config
        self._config_path = config_path
        self._stop = asyncio.Event()
        self._services = Services(config, self)
        self._reload_lock = asyncio.Lock()
        self._reloads: set[asyncio.Task[list[str]]] = set()

    # --- Runtime -------------------------------------------------------------------------------
    @property
    def config(self) -> AgentConfigBase:
        return self._config

    @property
    def config_path(self) -> Path:
        return self._config_path

    @property
    def drivers(self) -> Mapping[str, Driver[Any]]:
        return self._services.host.drivers

    def driver_for(self, device: str) -> Driver[Any] | None:
        return self._services.host.driver_for(device)

    def status(self) -> dict[str, JsonValue]:
        return self._services.status()

    async def outbox_stats(self) -> OutboxStats:
        return await self._services.outbox.stats()

    def subscribe(self) -> AsyncIterator[Record]:
        return self._services.pipeline.subscribe()

    async def sync_now(self) -> None:
        self._services.sync_now()

    async def purge(self, device: str | None, before: float | None) -> int:
        return await self._services.outbox.purge(device=device, before=before)

    async def reload(self) -> list[str]:
        async with self._reload_lock:
            try:
                # parsing YAML and every profile takes a while: keep the loop (and the watchdog) running
                new = await asyncio.to_thread(load_config, self._config_path)
            except ConfigError as exc:
                for problem in exc.problems:
                    log_event(log, "config_reload_refused", logging.ERROR, problem=problem)
                return exc.problems
            try:
                await self._services.reconfigure(new)
            except EdgepostError as exc:
                log_event(log, "config_reload_refused", logging.ERROR, problem=str(exc))
                return [str(exc)]
            self._config = new
            log_event(log, "config_reloaded", path=str(self._config_path))
            return []

    # --- lifecycle -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def _reload_on_signal(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload(), name="edgepost.reload")
        self._reloads.add(task)  # keep a reference until done, so the task is not garbage-collected
        task.add_done_callback(self._reloads.discard)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload_on_signal)
        try:
            await self._services.start()
            release_free_memory()  # what start-up parsed and built, freed, goes back to the kernel
            log_event(log, "agent_ready", gateway=self._config.gateway.id)
            await self._stop.wait()
            log_event(log, "agent_stopping")
        finally:
            async with self._reload_lock:  # a reload in progress finishes before shutdown starts
                await self._services.stop(STOP_TIMEOUT_S)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        log_event(log, "agent_stopped")
        return 0


def run_daemon(config_path: Path, verbose: bool = False) -> int:
    """``edgepost run``: exit 0 on a clean stop, 2 when the config is invalid, 1 when start-up fails.

    ``verbose`` (``run -v``): bus frames are logged too (``agent.frame_log``), rate-limited."""
    restrict_umask()  # a daemon started by hand with umask 022 or 000 still writes private files
    limit_arenas()  # before any thread starts
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    setup_logging(
        config.logging.level, config.logging.format, frames=verbose, rate_limit_s=config.logging.rate_limit_s,
        recent_log=recent_log_path(config.state_dir),
    )
    try:
        return asyncio.run(Daemon(config, config_path).run())
    except EdgepostError as exc:
        log_event(log, "agent_failed", logging.ERROR, error=str(exc))
        print(f"edgepost: {exc}", file=sys.stderr)
        return 1
