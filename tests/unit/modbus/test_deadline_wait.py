"""DeadlineWait on the real clock: a wake ends the wait in progress, or the next one at once."""

from __future__ import annotations

import asyncio

import pytest

from drivers.modbus.deadline_wait import DeadlineWait


async def test_wake_ends_a_long_wait_in_progress() -> None:
    pause = DeadlineWait()
    waiting = asyncio.create_task(pause.wait(3600.0))
    await asyncio.sleep(0)  # the task is now waiting
    assert not waiting.done()
    pause.wake()
    await asyncio.wait_for(waiting, 30.0)


async def test_a_wake_before_the_wait_makes_it_return_at_once() -> None:
    pause = DeadlineWait()
    pause.wake()
    await asyncio.wait_for(pause.wait(3600.0), 30.0)
    # the wake was used up: the next wait waits
    waiting = asyncio.create_task(pause.wait(3600.0))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_short_wait_ends_by_itself() -> None:
    await asyncio.wait_for(DeadlineWait().wait(0.01), 30.0)


async def test_cancelled_wait_leaves_no_timer_to_resolve_it_later() -> None:
    pause = DeadlineWait()
    waiting = asyncio.create_task(pause.wait(0.01))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0.05)  # the timer, had it not been cancelled, would fire on a done future
    pause.wake()  # no wait in progress: nothing raises
