"""Moved to ``drivers.serialbus.serial_link`` (one port, shared by every protocol on the line)."""

from drivers.serialbus.serial_link import PortMissing, SerialLink

__all__ = ["PortMissing", "SerialLink"]
