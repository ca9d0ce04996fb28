"""The hardware-in-the-loop rig (``edgepost rig``): stand up a pole, inject faults, prove the promises.

A scenario (YAML, ``rig/scenarios/``) describes a pole (simulated or real buses, cameras, a real
mosquitto, the agent as deployed), a timeline of faults and the expectations checked afterwards from
what the broker received and the simulators' ground truth. Nothing in ``agent`` or ``drivers``
imports this package; the CLI finds it through the ``edgepost.cli`` entry point.
"""
