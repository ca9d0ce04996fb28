"""The shared RS-485 bus service: one port, one link keeper and one request queue per physical line,
used by every protocol driver with devices on it (Modbus RTU, DL/T 645)."""
