"""Pluggable device drivers (Modbus, camera)."""
