"""Moved to ``drivers.serialbus.link`` (the shared RS-485 bus service owns the link keeper)."""

from drivers.serialbus.link import Connection, LinkChange, LinkDown, LinkKeeper, LinkState, OnChange

__all__ = ["Connection", "LinkChange", "LinkDown", "LinkKeeper", "LinkState", "OnChange"]
