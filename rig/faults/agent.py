"""Agent-process faults: kill -9, SIGTERM in the middle of a drain, an invalid config at start and
at SIGHUP. Each checks the agent's own reaction (exit codes, file:line messages, no hang)."""

from __future__ import annotations

import asyncio

from rig.errors import PoleError
from rig.faults.broker import restart_broker
from rig.faults.context import FaultContext, Outcome, hold, wait_for
from rig.pole.agent_config import broken
from rig.scenario.faults import AgentKill9, AgentSigtermDrain, ConfigInvalidSighup, ConfigInvalidStart


async def restart(ctx: FaultContext, problems: list[str]) -> None:
    try:
        await ctx.pole.agent.start()
    except PoleError as exc:
        problems.append(f"the agent did not come back: {exc}")


async def agent_kill9(ctx: FaultContext, spec: AgentKill9) -> Outcome:
    outcome = Outcome("SIGKILL")
    async with ctx.agent_lock:
        await ctx.pole.agent.kill9()
        await hold(spec.restart_after_s)
        await restart(ctx, outcome.problems)
    return outcome


async def agent_sigterm_drain(ctx: FaultContext, spec: AgentSigtermDrain) -> Outcome:
    agent = ctx.pole.agent
    collector = ctx.pole.collector
    outcome = Outcome()
    async with ctx.agent_lock:
        before = collector.count()
        await restart_broker(ctx, spec.outage_s)  # the agent buffers meanwhile
        draining = await wait_for(
            lambda: any(b"\"hist\":true" in m.payload or m.payload[:1] == b"x" for m in collector.snapshot()[before:]),
            30.0,
        )
        code = await agent.terminate()
        if code is None:
            outcome.problems.append(f"SIGTERM during the drain: no exit within {agent.stop_timeout_s:g} s (hang)")
        elif code != 0:
            outcome.problems.append(f"SIGTERM during the drain: exit code {code}, expected 0")
        outcome.detail = f"SIGTERM {'during' if draining else 'after (no backlog seen)'} the drain, exit {code}"
        await restart(ctx, outcome.problems)
    return outcome


async def config_invalid_start(ctx: FaultContext, spec: ConfigInvalidStart) -> Outcome:
    pole = ctx.pole
    agent = pole.agent
    outcome = Outcome("started with an invalid gateway.id")
    async with ctx.agent_lock:
        good = pole.config_path.read_text()
        code = await agent.terminate()
        if code != 0:
            outcome.problems.append(f"SIGTERM before the restart: exit {code}, expected 0")
        pole.write_config(broken(good))
        offset = agent.log_size()
        await agent.spawn()
        code = await agent.wait_exit(30.0)
        log = agent.log_since(offset)
        if code is None:
            outcome.problems.append("an invalid config did not stop the agent within 30 s")
            await agent.kill9()
        elif code != 2:
            outcome.problems.append(f"an invalid config exited {code}, expected 2 (usage/config)")
        if f"{pole.config_path}:" not in log or "gateway.id" not in log:
            outcome.problems.append(f"the refusal does not name file:line and gateway.id: {log[-400:]!r}")
        pole.write_config(good)
        await restart(ctx, outcome.problems)
    return outcome


async def config_invalid_sighup(ctx: FaultContext, spec: ConfigInvalidSighup) -> Outcome:
    pole = ctx.pole
    agent = pole.agent
    outcome = Outcome("SIGHUP with an invalid config, then with the good one")
    async with ctx.agent_lock:
        good = pole.config_path.read_text()
        offset = agent.log_size()
        pole.write_config(broken(good))
        agent.sighup()
        if not await wait_for(lambda: "config_reload_refused" in agent.log_since(offset), 20.0):
            outcome.problems.append("no config_reload_refused logged within 20 s of SIGHUP")
        await hold(spec.for_s)
        if not agent.running or not await agent.answers_status():
            outcome.problems.append("the agent stopped answering after a refused reload")
        pole.write_config(good)
        offset = agent.log_size()
        agent.sighup()
        if not await wait_for(lambda: "config_reloaded" in agent.log_since(offset), 30.0):
            outcome.problems.append("the good config was not reloaded within 30 s of SIGHUP")
        await asyncio.sleep(0)
    return outcome
