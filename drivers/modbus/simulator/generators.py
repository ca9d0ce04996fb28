"""Value generators for simulated points: constant, sine, random walk, counter, scripted sequence.

Each spec is a pydantic model (``kind:`` discriminated, in ``drivers.modbus.generator_specs`` so
that a profile's ``simulate:`` hint can use them); ``make_source`` turns one into a
``ValueSource`` whose ``value(now_s)`` is called once per read that touches the point, with the
seconds since the device started. Values are engineering values; the codec encodes them.
"""

from __future__ import annotations

import math
import random
from typing import Protocol

from agent.records import PointValue
from drivers.modbus.generator_specs import (
    AnyGeneratorSpec,
    ConstantSpec,
    CounterSpec,
    GeneratorSpec,
    RandomWalkSpec,
    SequenceSpec,
    SineSpec,
)

__all__ = [
    "AnyGeneratorSpec",
    "Constant",
    "ConstantSpec",
    "Counter",
    "CounterSpec",
    "GeneratorSpec",
    "RandomWalk",
    "RandomWalkSpec",
    "Sequence",
    "SequenceSpec",
    "Sine",
    "SineSpec",
    "ValueSource",
    "make_source",
]


class ValueSource(Protocol):
    def value(self, now_s: float) -> PointValue: ...


class Constant:
    def __init__(self, spec: ConstantSpec) -> None:
        self._value = spec.value

    def value(self, now_s: float) -> PointValue:
        return self._value


class Sine:
    def __init__(self, spec: SineSpec) -> None:
        self._spec = spec

    def value(self, now_s: float) -> PointValue:
        s = self._spec
        return s.offset + s.amplitude * math.sin(2 * math.pi * now_s / s.period + s.phase)


class RandomWalk:
    def __init__(self, spec: RandomWalkSpec) -> None:
        self._spec = spec
        self._rng = random.Random(spec.seed)
        self._current = spec.start if spec.start is not None else (spec.min + spec.max) / 2
        self._started = False

    def value(self, now_s: float) -> PointValue:
        if self._started:
            step = self._rng.uniform(-self._spec.step, self._spec.step)
            self._current = min(self._spec.max, max(self._spec.min, self._current + step))
        self._started = True
        return self._current


class Counter:
    def __init__(self, spec: CounterSpec) -> None:
        self._spec = spec

    def value(self, now_s: float) -> PointValue:
        return self._spec.start + self._spec.per_hour * max(now_s, 0.0) / 3600.0


class Sequence:
    def __init__(self, spec: SequenceSpec) -> None:
        self._spec = spec
        self._reads = 0

    def value(self, now_s: float) -> PointValue:
        values = self._spec.values
        if self._spec.per == "second":
            index = int(now_s)
        else:
            index = self._reads
            self._reads += 1
        index = index % len(values) if self._spec.repeat else min(index, len(values) - 1)
        return values[index]


def make_source(spec: AnyGeneratorSpec) -> ValueSource:
    if isinstance(spec, ConstantSpec):
        return Constant(spec)
    if isinstance(spec, SineSpec):
        return Sine(spec)
    if isinstance(spec, RandomWalkSpec):
        return RandomWalk(spec)
    if isinstance(spec, CounterSpec):
        return Counter(spec)
    return Sequence(spec)
