"""The Sparkplug session's errors, importable without protobuf (the JSON uplink checks for them)."""

from __future__ import annotations

from agent.errors import UplinkError


class HostOffline(UplinkError):
    """The primary host said offline: NDEATH was published and the session ends."""
