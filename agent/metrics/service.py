"""Runs the metrics outputs the config asks for: the 127.0.0.1 endpoint and/or the textfile."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client.exposition import generate_latest

from agent.config import MetricsConfig
from agent.errors import EdgepostError
from agent.logs import RateLimiter, log_event, log_limited
from agent.metrics.collect import from_outbox, from_status
from agent.metrics.exposition import Snapshot, encoder_for
from agent.metrics.http import MetricsHttpServer
from agent.metrics.textfile import write_atomic
from agent.outbox.api import OutboxStats
from agent.runtime import Runtime

_log = logging.getLogger(__name__)


class MetricsService:
    """``await start()`` / ``await stop()``; does nothing when neither output is configured."""

    def __init__(self, runtime: Runtime, config: MetricsConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.http: MetricsHttpServer | None = None
        self._limiter = RateLimiter(300.0)

    async def snapshot(self) -> Snapshot:
        stats: OutboxStats | None
        try:
            stats = await self.runtime.outbox_stats()
        except EdgepostError as exc:
            log_limited(self._limiter, _log, "outbox", "metrics_outbox_unavailable", error=str(exc))
            stats = None
        return Snapshot([*from_status(self.runtime.status()), *from_outbox(stats)])

    async def render(self) -> str:
        """The text format 0.0.4: the textfile's content."""
        return generate_latest(await self.snapshot()).decode()

    async def scrape(self, accept: str | None) -> tuple[bytes, str]:
        """The body and content type a scraper's ``Accept`` header asks for."""
        encode, content_type = encoder_for(accept)
        return encode(await self.snapshot()), content_type

    async def start(self) -> None:
        if self.config.prometheus_port is not None:
            self.http = MetricsHttpServer(self.config.prometheus_port, self.scrape)
            await self.http.start()
            log_event(_log, "metrics_listening", host="127.0.0.1", port=self.http.bound_port)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()
            self.http = None

    async def write_textfile(self) -> None:
        assert self.config.textfile is not None
        text = await self.render()
        try:
            await asyncio.to_thread(write_atomic, self.config.textfile, text)
        except OSError as exc:
            path = str(self.config.textfile)
            log_limited(self._limiter, _log, "textfile", "metrics_textfile_failed", path=path, error=str(exc))

    async def textfile_loop(self) -> None:
        """Rewrite the node-exporter textfile every interval; the daemon runs this under its supervisor."""
        while True:
            await self.write_textfile()
            await asyncio.sleep(self.config.interval_s)
