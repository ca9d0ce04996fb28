"""The topic scheme under ``{prefix}/{gateway}/`` (documented in TOPICS.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    gateway: str

    @property
    def base(self) -> str:
        return f"{self.prefix.rstrip('/')}/{self.gateway}" if self.prefix else self.gateway

    @property
    def telemetry(self) -> str:
        return f"{self.base}/telemetry"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def snapshots(self) -> str:
        """One camera snapshot per message, linked to its event id."""
        return f"{self.base}/snapshots"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def birth(self) -> str:
        return f"{self.base}/birth"

    @property
    def commands(self) -> str:
        """Subscription filter for downlink commands."""
        return f"{self.base}/cmd/#"

    @property
    def command_results(self) -> str:
        return f"{self.base}/cmd-result"

    def command_suffix(self, topic: str) -> str | None:
        """``x`` for ``{base}/cmd/x`` (``""`` for ``{base}/cmd``), None if not a command topic."""
        root = f"{self.base}/cmd"
        if topic == root:
            return ""
        if topic.startswith(root + "/"):
            return topic[len(root) + 1 :]
        return None
