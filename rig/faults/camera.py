"""Camera faults: the RTSP server dies (a camera losing power) and comes back on the same URL."""

from __future__ import annotations

import asyncio

from rig.faults.context import FaultContext, Outcome, Skip, hold
from rig.scenario.faults import CameraDown


async def camera_down(ctx: FaultContext, spec: CameraDown) -> Outcome:
    server = ctx.pole.cameras.get(spec.camera)
    if server is None:
        raise Skip(f"{spec.camera} is not served by the rig (a real camera)")
    await asyncio.to_thread(server.stop)
    await hold(spec.for_s)
    await asyncio.to_thread(server.start)
    return Outcome(f"{spec.camera}: RTSP server off for {spec.for_s:g} s")
