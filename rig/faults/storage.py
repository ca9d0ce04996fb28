"""Storage faults on the state dir: disk full, read-only filesystem, a corrupt outbox file."""

from __future__ import annotations

import time

from rig.errors import PoleError
from rig.faults.agent import restart
from rig.faults.context import FaultContext, Outcome, Skip, hold, wait_for
from rig.scenario.faults import DiskFull, OutboxCorrupt, ReadonlyFs


def _need_mount(ctx: FaultContext) -> None:
    state = ctx.pole.state
    if not state.mounted:
        raise Skip("needs pole.storage.state_dir: tmpfs (and root to mount it)")


async def disk_full(ctx: FaultContext, spec: DiskFull) -> Outcome:
    _need_mount(ctx)
    written = await ctx.pole.state.fill()
    await hold(spec.for_s)
    await ctx.pole.state.free()
    return Outcome(f"{ctx.pole.state.size_mb} MiB tmpfs filled ({written / 2**20:.1f} MiB filler) for {spec.for_s:g} s")


async def readonly_fs(ctx: FaultContext, spec: ReadonlyFs) -> Outcome:
    """The kernel refuses a read-only remount while a process holds files open for writing (only its own
    error handling can do that), so the agent is power-cut, the state dir remounted read-only, the agent
    started on it (it must answer status within its start timeout, degraded), and the mount made
    writable again underneath the running agent."""
    _need_mount(ctx)
    agent = ctx.pole.agent
    outcome = Outcome(f"kill -9, agent started on a read-only state dir, writable again after {spec.for_s:g} s")
    async with ctx.agent_lock:
        await agent.kill9()
        await ctx.pole.state.read_only(True)
        started = time.monotonic()
        try:
            await agent.spawn()
            if not await wait_for(agent.answers_status, agent.start_timeout_s, 0.5):
                outcome.problems.append(
                    f"the agent did not answer status within {agent.start_timeout_s:g} s on a read-only state dir"
                    + ("" if agent.running else f" (it exited with {agent.returncode})")
                )
            await hold(spec.for_s - (time.monotonic() - started))
        finally:
            await ctx.pole.state.read_only(False)
        if not agent.running:
            agent.notice_exit()
            await restart(ctx, outcome.problems)
    return outcome


async def outbox_corrupt(ctx: FaultContext, spec: OutboxCorrupt) -> Outcome:
    agent = ctx.pole.agent
    outcome = Outcome("kill -9, SQLite header overwritten, restart")
    async with ctx.agent_lock:
        await agent.kill9()
        try:
            ctx.pole.state.corrupt_outbox()
        except PoleError as exc:
            raise Skip(str(exc)) from None
        offset = agent.log_size()
        await restart(ctx, outcome.problems)
        if not await wait_for(lambda: "outbox_corrupt" in agent.log_since(offset), 20.0):
            outcome.problems.append("no outbox_corrupt logged after starting on a corrupt outbox")
    return outcome
