from tests.fixtures.serial import pty_pair, simulated_serial_bus  # noqa: F401
