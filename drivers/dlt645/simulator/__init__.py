"""DL/T 645 meter simulator: profile-driven meters on a pty/serial line, with wire timing and faults.

    meter = SimulatedMeter("000000000001", profiles.get("chint/ddsu666-dlt645"), {"voltage": 231.4})
    with run_in_thread(SimulatedDlt645Line("/dev/pts/5", [meter])):
        ...

``python -m drivers.dlt645.simulator --port /dev/pts/5 --meter 000000000001:chint/ddsu666-dlt645``
serves from the command line until interrupted.
"""

from drivers.dlt645.simulator.line import SimulatedDlt645Line
from drivers.dlt645.simulator.meter import SimulatedMeter
from drivers.dlt645.simulator.responder import Dlt645Responder, LineStats
from drivers.modbus.simulator.runner import run_in_thread

__all__ = ["Dlt645Responder", "LineStats", "SimulatedDlt645Line", "SimulatedMeter", "run_in_thread"]
