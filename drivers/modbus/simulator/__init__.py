"""Device simulator: profile-driven Modbus devices on a pty/serial line or TCP, with wire timing and faults.

Typical use (tests, benches, the demo)::

    device = SimulatedDevice(1, profile, {"voltage": SineSpec(amplitude=5, period=60, offset=230)})
    with run_in_thread(SimulatedBus("/dev/pts/5", baud=9600, devices=[device])):
        ...

``serve(spec)`` runs a whole ``SimulatorSpec`` (YAML or CLI flags) until cancelled.
"""

from drivers.modbus.simulator.device import GeneratorLike, HolePolicy, SimulatedDevice
from drivers.modbus.simulator.faults import Fault, FaultKind, FaultSet, parse_fault
from drivers.modbus.simulator.generators import (
    ConstantSpec,
    CounterSpec,
    CounterStep,
    GeneratorSpec,
    RandomWalkSpec,
    ScriptedCounter,
    SequenceSpec,
    SineSpec,
    ValueSource,
)
from drivers.modbus.simulator.responder import BusStats
from drivers.modbus.simulator.runner import ThreadedSimulator, run_in_thread
from drivers.modbus.simulator.serial_bus import SimulatedBus
from drivers.modbus.simulator.tcp_server import SimulatedTcpServer
from drivers.modbus.simulator.wire import WireTiming

__all__ = [
    "BusStats",
    "ConstantSpec",
    "CounterSpec",
    "CounterStep",
    "Fault",
    "FaultKind",
    "FaultSet",
    "GeneratorLike",
    "GeneratorSpec",
    "HolePolicy",
    "RandomWalkSpec",
    "ScriptedCounter",
    "SequenceSpec",
    "SimulatedBus",
    "SimulatedDevice",
    "SimulatedTcpServer",
    "SineSpec",
    "ThreadedSimulator",
    "ValueSource",
    "WireTiming",
    "parse_fault",
    "run_in_thread",
]
