"""The simulator's model of a real master's serial path: USB adapter latency and turnaround jitter."""

from __future__ import annotations

import statistics

import pytest

from drivers.modbus.simulator.serial_path import USB_FRAME_S, SerialPath
from drivers.modbus.simulator.serve import build_servers
from drivers.modbus.simulator.spec import parse_spec


def test_the_ideal_path_adds_nothing() -> None:
    path = SerialPath()
    assert path.ideal
    assert path.request_on_wire(12.3456) == 12.3456
    assert path.answer_at_host(7.0001) == 7.0001
    assert path.turnaround_s(0.005) == 0.005
    assert path.mean_extra_s() == 0.0


def test_an_answer_waits_for_the_next_tick_of_the_latency_timer() -> None:
    path = SerialPath(adapter_latency_ms=16)
    ends = [10.0 + i * 0.000731 for i in range(2000)]
    waits = [path.answer_at_host(t) - t for t in ends]
    assert min(waits) >= 0.0
    assert max(waits) <= 0.016 + 1e-9
    # answers ending at random points of the timer's period wait half a period on average
    assert statistics.mean(waits) == pytest.approx(0.008, abs=0.001)
    ticks = {round(path.answer_at_host(t), 9) for t in ends}
    gaps = sorted(b - a for a, b in zip(sorted(ticks), sorted(ticks)[1:], strict=False))
    assert gaps[0] == pytest.approx(0.016, abs=1e-6)


def test_a_request_leaves_on_the_next_usb_frame() -> None:
    path = SerialPath(adapter_latency_ms=1)
    for i in range(500):
        t = 3.0 + i * 0.000377
        on_wire = path.request_on_wire(t)
        assert t <= on_wire <= t + USB_FRAME_S + 1e-12


def test_turnaround_jitter_is_uniform_above_the_nominal_and_seeded() -> None:
    draws = [SerialPath(turnaround_jitter_ms=4, seed=3).turnaround_s(0.005) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]  # same seed, same first draw
    path = SerialPath(turnaround_jitter_ms=4, seed=3)
    values = [path.turnaround_s(0.005) for _ in range(4000)]
    assert min(values) >= 0.005
    assert max(values) <= 0.009
    assert statistics.mean(values) == pytest.approx(0.007, abs=0.0002)
    assert path.mean_extra_s() == pytest.approx(0.002)


def test_mean_extra_counts_usb_frame_timer_and_jitter() -> None:
    assert SerialPath(adapter_latency_ms=16, turnaround_jitter_ms=2).mean_extra_s() == pytest.approx(
        0.0005 + 0.008 + 0.001
    )


def test_negative_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        SerialPath(adapter_latency_ms=-1)


def test_the_spec_builds_a_bus_with_its_path() -> None:
    spec, doc = parse_spec(
        "buses:\n  - serial: {port: /dev/null, baud: 9600, adapter_latency_ms: 16, turnaround_jitter_ms: 2}\n"
        "    devices: [{unit: 1, profile: eastron/sdm120}]\n"
    )
    [server] = build_servers(spec, doc)
    path = server.path  # type: ignore[union-attr]
    assert (path.adapter_latency_ms, path.turnaround_jitter_ms) == (16, 2)
