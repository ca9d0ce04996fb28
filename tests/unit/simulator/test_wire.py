"""The wire-timing model's durations (exact) and the accuracy of the sleep that serves them."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from drivers.modbus.simulator.wire import WireTiming, sleep_until


def test_character_time_counts_start_parity_and_stop_bits() -> None:
    assert WireTiming(9600).bits_per_char == 10
    assert WireTiming(9600, parity="E").bits_per_char == 11
    assert WireTiming(9600, stopbits=2).bits_per_char == 11
    assert WireTiming(9600, bytesize=7, parity="O", stopbits=2).bits_per_char == 11
    assert WireTiming(9600).char_s == pytest.approx(10 / 9600, rel=1e-12)
    assert WireTiming(19200, parity="E").char_s == pytest.approx(11 / 19200, rel=1e-12)


def test_silence_is_three_and_a_half_characters_with_the_fast_baud_floor() -> None:
    assert WireTiming(9600).silence_s == pytest.approx(3.5 * 10 / 9600, rel=1e-12)
    assert WireTiming(115200).silence_s == pytest.approx(0.00175, rel=1e-12)


def test_response_delay_and_transaction_add_up_exactly() -> None:
    wire = WireTiming(9600)
    char = 10 / 9600
    # read of 10 registers: 8-byte request, 5 + 20-byte response, 5 ms turnaround
    assert wire.response_delay_s(8, 25, 0.005) == pytest.approx((8 + 3.5 + 25) * char + 0.005, rel=1e-12)
    assert wire.transaction_s(8, 25, 0.005) == pytest.approx((8 + 7 + 25) * char + 0.005, rel=1e-12)
    assert wire.read_transaction_s(10, 0.005) == pytest.approx(wire.transaction_s(8, 25, 0.005), rel=1e-12)
    # bits pack eight to a byte: 17 coils are 3 data bytes
    assert wire.read_transaction_s(17, 0.0, bits=True) == pytest.approx((8 + 7 + 5 + 3) * char, rel=1e-12)


def test_rejects_a_nonsense_baud() -> None:
    with pytest.raises(ValueError, match="baud"):
        WireTiming(0)


async def test_sleep_never_returns_early_and_reports_its_average_error(
    record_property: pytest.RecordProperty,
) -> None:
    wire = WireTiming(9600)
    delays = [wire.response_delay_s(8, 5 + 2 * n, 0.005) for n in (1, 10, 30, 60, 125)] * 4
    errors: list[float] = []
    for delay in delays:
        deadline = time.perf_counter() + delay
        await sleep_until(deadline)
        errors.append(time.perf_counter() - deadline)
        await asyncio.sleep(0)
    assert min(errors) >= 0.0  # served delay >= the model, always
    record_property("mean_overshoot_us", round(statistics.mean(errors) * 1e6, 1))
    record_property("max_overshoot_us", round(max(errors) * 1e6, 1))
