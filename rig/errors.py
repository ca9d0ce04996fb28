"""The rig's typed errors. Scenario files reuse the agent's ``ConfigError`` (file:line:col lines)."""

from __future__ import annotations

from agent.errors import ConfigError, EdgepostError

__all__ = ["ConfigError", "PoleError", "RigError", "ToolMissing"]


class RigError(EdgepostError):
    """Root of every error the rig raises on purpose."""


class PoleError(RigError):
    """A piece of the pole (broker, pty, simulator, agent, mount) could not be set up or driven."""


class ToolMissing(PoleError):
    """A system tool the rig needs (socat, mosquitto, faketime, openssl) is not installed."""
