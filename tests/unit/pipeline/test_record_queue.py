"""The pipeline's bounded queue: FIFO, batches, back-pressure in order, cancellation, join."""

from __future__ import annotations

import asyncio

import pytest

from agent.pipeline.record_queue import RecordQueue


async def test_batches_come_out_in_order_up_to_the_limit() -> None:
    queue: RecordQueue[int] = RecordQueue(100)
    for i in range(10):
        assert queue.try_put(i)
    assert await queue.get_batch(4) == [0, 1, 2, 3]
    assert queue.get_nowait_batch(100) == [4, 5, 6, 7, 8, 9]
    assert queue.get_nowait_batch(5) == []
    assert queue.empty()


async def test_a_getter_waits_for_the_first_item() -> None:
    queue: RecordQueue[str] = RecordQueue(10)
    getter = asyncio.create_task(queue.get_batch(5))
    await asyncio.sleep(0)
    assert not getter.done()
    queue.try_put("a")
    assert await getter == ["a"]


async def test_a_full_queue_holds_producers_back_and_lets_them_in_in_order() -> None:
    queue: RecordQueue[int] = RecordQueue(2)
    assert queue.try_put(0) and queue.try_put(1)
    assert not queue.try_put(99)  # full: the caller must wait
    order: list[int] = []

    async def producer(i: int) -> None:
        await queue.put(i)
        order.append(i)

    producers = [asyncio.create_task(producer(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    assert order == [] and queue.qsize() == 2
    assert not queue.try_put(99)  # others wait first: no cutting in line
    assert queue.get_nowait_batch(1) == [0]
    await asyncio.sleep(0)
    assert order == [2]
    assert queue.get_nowait_batch(10) == [1, 2]
    await asyncio.gather(*producers)
    assert order == [2, 3, 4]
    assert queue.get_nowait_batch(10) == [3, 4]


async def test_a_cancelled_producer_passes_its_room_on() -> None:
    queue: RecordQueue[int] = RecordQueue(1)
    queue.try_put(0)
    first = asyncio.create_task(queue.put(1))
    second = asyncio.create_task(queue.put(2))
    await asyncio.sleep(0)
    queue.get_nowait_batch(1)  # room for one: wakes the first producer...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await second
    assert queue.get_nowait_batch(5) == [2]


async def test_join_waits_until_every_item_is_done() -> None:
    queue: RecordQueue[int] = RecordQueue(10)
    await queue.join()  # nothing put: returns at once
    queue.try_put(1)
    queue.try_put(2)
    joined = asyncio.create_task(queue.join())
    batch = queue.get_nowait_batch(10)
    queue.task_done(1)
    await asyncio.sleep(0)
    assert not joined.done()
    queue.task_done(len(batch) - 1)
    await joined
    with pytest.raises(ValueError, match="more times"):
        queue.task_done()


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RecordQueue(0)
