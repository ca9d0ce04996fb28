"""Run one scenario: stand the pole up, start the agent, play the timeline while sampling, settle
(the backlog drains, the agent answers ``status`` and stops cleanly), then check the expectations."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from agent.control.client import ControlClient
from agent.control.protocol import BufferStatsRequest
from agent.errors import EdgepostError
from rig.checks.alarms import check_alarms
from rig.checks.latency import check_alarm_latency, live_latencies
from rig.checks.liveness import (
    FinalState,
    check_alive,
    check_commands,
    check_delivery,
    check_drained,
    check_fault_reactions,
)
from rig.checks.recovery import check_recovery
from rig.checks.resources import check_resources, summarise
from rig.checks.seqs import check_seqs
from rig.checks.states import check_states
from rig.checks.values import check_values
from rig.faults.context import FaultContext, wait_for
from rig.faults.timeline import run_timeline
from rig.observe.faultlog import FaultLog
from rig.observe.sampler import Sampler
from rig.observe.upstream import Upstream, decode
from rig.pole.agent_process import Exit, agent_command
from rig.pole.pole import Pole, stand_up
from rig.results import RunResult, Series, Summary
from rig.scenario.model import Scenario

_FIRST_RECORD_S = 60.0


async def run_scenario(scenario: Scenario, workdir: Path, mode: str = "full") -> RunResult:
    fake_clock = any(getattr(f, "fault", "") == "clock_jump" for f in scenario.timeline)
    result = RunResult(
        scenario.name, scenario.description, scenario.group, mode, scenario.seed, time.time(), time.time(),
        source=str(scenario.source or ""), workdir=str(workdir),
    )
    log = FaultLog()
    phases = result.phases
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 2)
        mark = now

    async with stand_up(scenario.pole, workdir, fake_clock=fake_clock) as pole:
        phase("stand_up")
        await pole.agent.start()
        await wait_for(lambda: any(m.topic.endswith(("/telemetry", "/events")) for m in pole.collector.snapshot()),
                       _FIRST_RECORD_S, 0.2)
        phase("agent_start")
        ctx = FaultContext(pole, random.Random(scenario.seed))
        result.started = time.time()
        async with Sampler(pole.agent, scenario.sample_s) as sampler:
            async with asyncio.TaskGroup() as group:
                group.create_task(run_timeline(ctx, scenario.timeline, scenario.seed, result.started, log))
                group.create_task(asyncio.sleep(scenario.duration_s))
            phase("timeline")
            final, upto = await settle(pole, scenario.expect.settle_s, sampler)
            phase("settle")
        samples = list(sampler.samples)
        result.ended = time.time()
        up = decode(pole.collector.snapshot())
        truth = pole.truth
        simulated = set(pole.devices)
        expected = {d.name: d.expected for b in scenario.pole.buses for d in b.devices if d.expected}
        sent = list(ctx.sent)
    phase("tear_down")
    expect = scenario.expect
    seq_checks, stats = check_seqs(up, upto)
    checks = [check_delivery(up, expect.min_delivered)]
    if expect.seqs:
        checks += seq_checks
    if expect.values:
        window = None if fake_clock else expect.value_window_s
        checks.append(check_values(up, truth, simulated, expected, window))
    if expect.alarm_latency_ms is not None:
        checks.append(check_alarm_latency(up, truth, expect.alarm_latency_ms))
    checks.append(check_alarms(up))
    checks += check_states(up, expect.device_states)
    resources = summarise(samples)
    checks += check_resources(resources, expect.rss_growth_mb, expect.cpu_percent)
    if expect.alive:
        checks.append(check_alive(final))
    if expect.drained:
        checks.append(check_drained(final))
    if expect.commands_answered:
        checks.append(check_commands(up, sent))
    recovery_max: float | None = None
    if expect.recovery_s is not None:
        recovery, recovery_max = check_recovery(up, log.entries, expect.recovery_s)
        checks.append(recovery)
    checks += check_fault_reactions(log.entries)
    latencies = live_latencies(up)
    result.checks = checks
    result.faults = log.entries
    result.summary = Summary(
        produced=stats.produced, delivered=stats.delivered, lost=stats.lost, duplicated=stats.duplicates,
        explained=stats.explained, moved_aside=stats.moved_aside, skipped=stats.skipped, recovery_max_s=recovery_max,
        p50_ms=latencies.p50_ms, p99_ms=latencies.p99_ms,
        faults_injected=len(log.injected()), faults_skipped=len(log.entries) - len(log.injected()),
        rss_growth_mb=resources.rss_growth_mb, rss_per_hour_mb=resources.rss_per_hour_mb,
        rss_hourly_mb=resources.rss_hourly_mb, cpu_mean=resources.cpu_mean,
    )
    result.series = _series(result.started, up, samples, latencies.samples)
    result.series.violations = [(t - result.started, c.name) for c in checks if c.passed is False for t in c.at]
    return result


async def settle(pole: Pole, settle_s: float, sampler: Sampler) -> tuple[FinalState, int | None]:
    """Faults are over: wait until every seq the outbox has given out is accounted for upstream, then
    ask ``edgepost status`` and stop the agent (sampling ends first: a stopping agent is not a fault)."""
    agent = pole.agent
    agent.notice_exit()
    crashes: list[Exit] = [e for e in agent.exits if e.how == "crash"]
    if not agent.running:
        await agent.start()
    upto = await _last_seq(pole)
    drained = False
    detail = "the outbox could not be asked for its last seq"
    if upto is not None:
        target = upto

        def accounted() -> bool:
            _, stats = check_seqs(decode(pole.collector.snapshot()), target)
            return stats.lost == 0

        started = time.monotonic()
        drained = await wait_for(accounted, settle_s, 0.5)
        took = time.monotonic() - started
        detail = (f"seqs 1..{upto} accounted for within {took:.1f} s" if drained
                  else f"seqs 1..{upto} not all delivered {settle_s:g} s after the faults ended")
    await sampler.stop()
    code, output = await _status_command(pole)
    stop = await agent.terminate()
    return FinalState(code, output, crashes, drained, detail, stop), upto


async def _last_seq(pole: Pole) -> int | None:
    try:
        async with ControlClient(pole.agent.control_socket, timeout_s=30.0) as client:
            stats = await client.call(BufferStatsRequest())
    except (EdgepostError, OSError):
        return None
    value = stats.get("last_seq") if isinstance(stats, dict) else None
    return int(value) if isinstance(value, int) else None


async def _status_command(pole: Pole) -> tuple[int | None, str]:
    """``edgepost --json status`` exactly as a technician would type it."""
    proc = await asyncio.create_subprocess_exec(
        *agent_command(), "--config", str(pole.config_path), "--json", "status",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(60):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None, "edgepost status did not answer within 60 s"
    return proc.returncode, out.decode(errors="replace")


def _series(t0: float, up: Upstream, samples: list, latencies: list[tuple[float, float]]) -> Series:  # type: ignore[type-arg]
    return Series(
        samples=[
            {"t": s.t - t0, "rss_mb": s.rss_mb, "cpu": s.cpu_percent, "outbox": s.outbox_records,
             "connected": s.connected, "answered": s.answered}
            for s in samples
        ],
        arrivals=[r.arrived - t0 for r in up.records],
        latencies=[(t - t0, ms) for t, ms in latencies],
    )
