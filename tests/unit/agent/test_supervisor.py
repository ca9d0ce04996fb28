import asyncio
import random
import time

import pytest

from agent.supervisor import LoopHealth, Supervisor, backoff_delay


def test_backoff_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(a, 1.0, 30.0, rng) for a in range(40)]
    assert all(0.5 <= d <= 30.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 30  # jitter: boxes do not restart in lockstep
    assert max(delays[:2]) <= 2.0  # early attempts stay short


@pytest.mark.asyncio
async def test_failed_task_is_restarted_and_its_error_kept() -> None:
    sup = Supervisor(base_backoff_s=0.01, max_backoff_s=0.02, seed=0)
    runs = 0
    done = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ValueError(f"boom {runs}")
        done.set()
        await asyncio.Event().wait()

    sup.start("flaky", flaky)
    await asyncio.wait_for(done.wait(), 5)
    state = sup.states["flaky"]
    assert runs == 3 and state.restarts == 2 and state.last_error == "ValueError: boom 2"
    assert state.running
    await sup.stop_all()
    assert sup.names() == []


@pytest.mark.asyncio
async def test_task_without_restart_stays_down() -> None:
    sup = Supervisor(base_backoff_s=0.01, max_backoff_s=0.02)
    calls = 0

    async def once() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("no")

    sup.start("once", once, restart=False)
    await asyncio.sleep(0.1)
    assert calls == 1 and sup.states["once"].restarts == 1 and not sup.states["once"].running


@pytest.mark.asyncio
async def test_loop_health_goes_unhealthy_when_the_loop_is_blocked() -> None:
    health = LoopHealth(interval_s=0.02, max_lag_s=0.1)
    pings = 0

    def ping() -> None:
        nonlocal pings
        pings += 1

    task = asyncio.create_task(health.run(ping))
    await asyncio.sleep(0.1)
    assert health.healthy and pings > 0

    time.sleep(0.3)  # noqa: ASYNC251 -- block the loop on purpose: a stalled loop must not feed the watchdog
    assert not health.healthy
    before = pings
    await asyncio.sleep(0.001)
    assert pings == before  # the late tick measured the lag and did not ping
    task.cancel()
