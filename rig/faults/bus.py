"""Serial-bus faults on simulated devices: CRC noise, a silent or slow device, a port that vanishes
and comes back, a device swapped for another firmware; and the tilt stimulus."""

from __future__ import annotations

from drivers.modbus.simulator.generators import ConstantSpec
from drivers.modbus.simulator.serial_bus import SimulatedBus
from rig.faults.context import FaultContext, Outcome, Skip, hold
from rig.observe.truth import now
from rig.scenario.faults import BusNoise, DeviceSilent, DeviceSlow, FirmwareSwap, PortUnplug, Tilt


async def _device_faults(ctx: FaultContext, device: str, faults: list[str], for_s: float) -> None:
    ctx.need_simulated(device)
    sim = ctx.pole.devices[device]
    await ctx.pole.sims.call(lambda: sim.set_faults(list(faults)))
    await hold(for_s)
    current = ctx.pole.devices[device]  # a swap may have replaced it meanwhile
    await ctx.pole.sims.call(lambda: current.set_faults([]))


async def bus_noise(ctx: FaultContext, spec: BusNoise) -> Outcome:
    await _device_faults(ctx, spec.device, [f"corrupt-crc:{spec.probability}"], spec.for_s)
    return Outcome(f"{spec.device}: {spec.probability:.0%} of replies with a broken CRC")


async def device_silent(ctx: FaultContext, spec: DeviceSilent) -> Outcome:
    await _device_faults(ctx, spec.device, ["silent"], spec.for_s)
    return Outcome(f"{spec.device} silent for {spec.for_s:g} s")


async def device_slow(ctx: FaultContext, spec: DeviceSlow) -> Outcome:
    await _device_faults(ctx, spec.device, [f"slow:{spec.delay_ms}"], spec.for_s)
    return Outcome(f"{spec.device} answers {spec.delay_ms:g} ms late")


async def port_unplug(ctx: FaultContext, spec: PortUnplug) -> Outcome:
    link = ctx.pole.links.get(spec.bus)
    server = ctx.pole.servers.get(spec.bus)
    if link is None or not isinstance(server, SimulatedBus):
        raise Skip(f"{spec.bus} is not a simulated serial bus")
    await ctx.pole.sims.stop(server)
    link.unplug()
    await hold(spec.for_s)
    link.plug()
    await ctx.pole.sims.start(server)
    return Outcome(f"{link.agent_end} gone for {spec.for_s:g} s, back on {link.sim_pty}")


async def firmware_swap(ctx: FaultContext, spec: FirmwareSwap) -> Outcome:
    ctx.need_simulated(spec.device)
    pole = ctx.pole
    old = pole.devices[spec.device]
    bus = next(name for name, server in pole.servers.items() if server.devices.get(old.unit) is old)
    server = pole.servers[bus]
    found = pole.spec.device(spec.device)
    new = pole.make_device(spec.device, old.unit, spec.profile, spec.firmware, found[1] if found else None)

    def swap_in(device: object) -> None:
        server.devices[old.unit] = device  # type: ignore[assignment]

    await pole.sims.call(lambda: swap_in(new))
    pole.devices[spec.device] = new
    detail = f"{spec.device}: {old.profile.id} replaced by {new.profile.id}"
    if spec.for_s > 0:
        await hold(spec.for_s)
        await pole.sims.call(lambda: swap_in(old))
        pole.devices[spec.device] = old
        detail += f" for {spec.for_s:g} s"
    return Outcome(detail)


async def tilt(ctx: FaultContext, spec: Tilt) -> Outcome:
    ctx.need_simulated(spec.device)
    pole = ctx.pole
    sim = pole.devices[spec.device]
    found = pole.spec.device(spec.device)
    before = found[1].points.get(spec.point) if found else None

    def change() -> None:
        sim.set_generator(spec.point, ConstantSpec(value=spec.value))
        pole.truth.changed(spec.device, spec.point, now(), spec.value)

    await pole.sims.call(change)
    await hold(spec.for_s)
    restored = before if before is not None else ConstantSpec(value=0.0)
    await pole.sims.call(lambda: sim.set_generator(spec.point, restored))
    return Outcome(f"{spec.device}.{spec.point} -> {spec.value:g}")
