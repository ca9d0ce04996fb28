"""Broker and link faults: broker down, restart with session loss, and the link proxy's stall,
blackhole and throttle (a 2G/NB-IoT-like link)."""

from __future__ import annotations

import asyncio

from rig.faults.context import FaultContext, Outcome, hold, wait_for
from rig.pole.broker import Mosquitto
from rig.pole.proxy import LinkProxy
from rig.scenario.faults import BrokerDown, BrokerRestart, LinkBlackhole, LinkStall, LinkThrottle


def _local(ctx: FaultContext) -> tuple[Mosquitto, LinkProxy]:
    ctx.need_local_broker()
    assert ctx.pole.broker is not None and ctx.pole.proxy is not None
    return ctx.pole.broker, ctx.pole.proxy


async def restart_broker(ctx: FaultContext, down_s: float, lose_sessions: bool = False) -> None:
    """Stop, wait, start; the agent is let through again only once the rig's collector is back,
    so what the rig counts as lost is the agent's doing, not the collector's absence."""
    broker, proxy = _local(ctx)
    await proxy.set_mode("refuse")
    await asyncio.to_thread(broker.stop)
    await hold(down_s)
    if lose_sessions:
        broker.wipe_sessions()
    await asyncio.to_thread(broker.start)
    await wait_for(lambda: ctx.pole.collector.subscribed, 20.0)
    await asyncio.sleep(0.3)  # the collector's SUBSCRIBE after a lost session
    await proxy.set_mode("pass")


async def broker_down(ctx: FaultContext, spec: BrokerDown) -> Outcome:
    await restart_broker(ctx, spec.for_s)
    return Outcome(f"broker stopped for {spec.for_s:g} s")


async def broker_restart(ctx: FaultContext, spec: BrokerRestart) -> Outcome:
    await restart_broker(ctx, spec.for_s, lose_sessions=spec.lose_sessions)
    return Outcome("sessions and queues lost" if spec.lose_sessions else "sessions kept")


async def link_stall(ctx: FaultContext, spec: LinkStall) -> Outcome:
    _, proxy = _local(ctx)
    await proxy.set_mode("stall")
    await hold(spec.for_s)
    await proxy.set_mode("pass")
    return Outcome(f"no byte through for {spec.for_s:g} s, then delivered")


async def link_blackhole(ctx: FaultContext, spec: LinkBlackhole) -> Outcome:
    _, proxy = _local(ctx)
    await proxy.set_mode("blackhole")
    await hold(spec.for_s)
    await proxy.set_mode("pass")
    return Outcome(f"nothing through for {spec.for_s:g} s, connections then cut")


async def link_throttle(ctx: FaultContext, spec: LinkThrottle) -> Outcome:
    _, proxy = _local(ctx)
    await proxy.set_mode("throttle", spec.bytes_per_s, spec.latency_ms)
    await hold(spec.for_s)
    await proxy.set_mode("pass")
    return Outcome(f"{spec.bytes_per_s:g} B/s, {spec.latency_ms:g} ms for {spec.for_s:g} s")
