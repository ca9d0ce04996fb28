"""Wall-clock jumps seen by the agent alone: libfaketime preloaded into it (monotonic time untouched),
its offset file rewritten here. The rig, the broker and the simulators keep the real clock."""

from __future__ import annotations

from rig.faults.context import FaultContext, Outcome, Skip, hold
from rig.scenario.faults import ClockJump


async def clock_jump(ctx: FaultContext, spec: ClockJump) -> Outcome:
    clock = ctx.pole.clock_file
    if clock is None:
        raise Skip("faketime is not installed (apt-get install faketime): the agent's clock cannot be moved")
    clock.write_text(f"{spec.offset_s:+.0f}\n")
    detail = f"agent wall clock {spec.offset_s:+.0f} s"
    if spec.for_s > 0:
        await hold(spec.for_s)
        clock.write_text("+0\n")
        detail += f" for {spec.for_s:g} s, then back"
    return Outcome(detail)
