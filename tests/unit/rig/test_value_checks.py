"""The value checker catches a wrong value, a value from the wrong moment, and misses on real devices."""

from __future__ import annotations

from rig.checks.values import check_values, same
from rig.observe.truth import Truth
from rig.observe.upstream import Upstream, decode
from rig.scenario.pole import ExpectedValue
from tests.unit.rig.upstream_factory import batch, reading


def _truth() -> Truth:
    truth = Truth()
    for i, value in enumerate([230.0, 231.5, 229.75]):
        truth.record("meter", "voltage", 100.0 + i, value)
    return truth


def test_values_that_were_on_the_wire_pass() -> None:
    up = decode([batch([reading(1, "meter", "voltage", 231.5, 101.02), reading(2, "meter", "voltage", 229.75, 102.0)],
                       103.0)])
    result = check_values(up, _truth(), {"meter"}, {}, 2.0)
    assert result.passed is True and "2 good values checked" in result.summary


def test_a_wrong_value_fails() -> None:
    up = decode([batch([reading(1, "meter", "voltage", 231.6, 101.0)], 103.0)])
    result = check_values(up, _truth(), {"meter"}, {}, 2.0)
    assert result.passed is False
    assert "meter.voltage = 231.6" in result.details[0]


def test_a_value_from_another_moment_fails_within_the_window() -> None:
    up = decode([batch([reading(1, "meter", "voltage", 230.0, 110.0)], 111.0)])  # read 10 s after it was true
    assert check_values(up, _truth(), {"meter"}, {}, 2.0).passed is False
    assert check_values(up, _truth(), {"meter"}, {}, None).passed is True  # clock faults: any time


def test_stale_and_bad_values_are_not_compared() -> None:
    up = decode([batch([reading(1, "meter", "voltage", 999.0, 101.0, q="stale")], 103.0)])
    assert check_values(up, _truth(), {"meter"}, {}, 2.0).passed is None


def test_real_devices_against_the_expected_values() -> None:
    expected = {"meter": {"voltage": ExpectedValue(min=207, max=253),
                          "frequency": ExpectedValue(value=50, tolerance=0.2)}}

    def up(voltage: float, frequency: float) -> Upstream:
        return decode([batch([reading(1, "meter", "voltage", voltage, 1.0),
                              reading(2, "meter", "frequency", frequency, 1.0)], 2.0)])

    good = up(231.0, 50.1)
    assert check_values(good, Truth(), set(), expected, 2.0).passed is True
    bad = up(199.0, 49.5)
    result = check_values(bad, Truth(), set(), expected, 2.0)
    assert result.passed is False and len(result.details) == 2


def test_same_is_type_aware() -> None:
    assert same(True, True) and not same(1, True) and not same(True, 1)
    assert same(230.00000000001, 230.0) and not same(230.001, 230.0)
    assert same("ok", "ok") and not same("ok", "OK")
