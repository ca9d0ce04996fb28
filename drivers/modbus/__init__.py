"""Modbus RTU / TCP / RTU-over-TCP driver: planned reads on a shared bus queue, profile-driven.

Modules: ``config`` (pydantic models), ``transport`` (pymodbus clients, typed requests and errors),
``bus`` (one serialised queue per RS-485 line), ``planner`` (pure read planning and the wire-time
model), ``scheduler`` (pure poll timing), ``device`` (one polled device), ``writes`` (validation),
``identify`` (profile matching and ``scan``), ``driver`` (the ``ModbusDriver`` entry point).
Nothing is imported here, so validating a config does not load pymodbus.
"""
