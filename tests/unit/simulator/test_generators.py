from __future__ import annotations

import itertools
import math

import pytest
from pydantic import TypeAdapter, ValidationError

from drivers.modbus.simulator.generators import (
    ConstantSpec,
    GeneratorSpec,
    RandomWalkSpec,
    SequenceSpec,
    SineSpec,
    make_source,
)

ADAPTER: TypeAdapter[GeneratorSpec] = TypeAdapter(GeneratorSpec)


def test_constant_ignores_time() -> None:
    source = make_source(ConstantSpec(value=230.5))
    assert [source.value(t) for t in (0, 1, 100)] == [230.5, 230.5, 230.5]


def test_sine_follows_amplitude_period_offset_and_phase() -> None:
    source = make_source(SineSpec(amplitude=10, period=4, offset=50))
    assert source.value(0) == pytest.approx(50)
    assert source.value(1) == pytest.approx(60)
    assert source.value(3) == pytest.approx(40)
    shifted = make_source(SineSpec(amplitude=2, period=8, offset=0, phase=math.pi / 2))
    assert shifted.value(0) == pytest.approx(2)


def test_random_walk_stays_in_bounds_moves_by_at_most_step_and_repeats_with_its_seed() -> None:
    spec = RandomWalkSpec(step=0.5, min=10, max=12, seed=7)
    first = make_source(spec)
    values = [float(first.value(0)) for _ in range(500)]  # type: ignore[arg-type]
    assert values[0] == 11
    assert all(10 <= v <= 12 for v in values)
    assert all(abs(b - a) <= 0.5 + 1e-9 for a, b in itertools.pairwise(values))
    assert len(set(values)) > 100
    again = make_source(spec)
    assert [again.value(0) for _ in range(500)] == values
    other = make_source(RandomWalkSpec(step=0.5, min=10, max=12, seed=8))
    assert [other.value(0) for _ in range(500)] != values


def test_sequence_per_read_repeats_or_holds() -> None:
    looping = make_source(SequenceSpec(values=[1, 2, 3]))
    assert [looping.value(0) for _ in range(7)] == [1, 2, 3, 1, 2, 3, 1]
    holding = make_source(SequenceSpec(values=[1, 2, 3], repeat=False))
    assert [holding.value(0) for _ in range(5)] == [1, 2, 3, 3, 3]


def test_sequence_per_second_follows_the_clock_not_the_reads() -> None:
    source = make_source(SequenceSpec(values=["a", "b", "c"], per="second"))
    assert [source.value(t) for t in (0.0, 0.2, 0.9, 1.0, 2.5, 3.1)] == ["a", "a", "a", "b", "c", "a"]


def test_specs_parse_from_yaml_shapes_and_refuse_bad_ones() -> None:
    spec = ADAPTER.validate_python({"kind": "sine", "amplitude": 3, "period": 60, "offset": 230})
    assert isinstance(spec, SineSpec)
    assert spec.offset == 230
    with pytest.raises(ValidationError, match="period"):
        ADAPTER.validate_python({"kind": "sine", "period": 0})
    with pytest.raises(ValidationError, match=r"min 5\.0 is above max 1\.0"):
        ADAPTER.validate_python({"kind": "random_walk", "min": 5, "max": 1})
    with pytest.raises(ValidationError, match="values"):
        ADAPTER.validate_python({"kind": "sequence", "values": []})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "square"})
