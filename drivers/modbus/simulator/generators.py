"""Value generators for simulated points: constant, sine, random walk, counter (steady or scripted), scripted sequence.

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
    CounterStep,
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
    "CounterStep",
    "GeneratorSpec",
    "RandomWalk",
    "RandomWalkSpec",
    "ScriptedCounter",
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
        total = self._spec.start + self._spec.per_hour * max(now_s, 0.0) / 3600.0
        return total % self._spec.wrap if self._spec.wrap is not None else total


class ScriptedCounter:
    """Plays a ``CounterSpec``'s script: the value is the start plus each step's rate over the time spent in it."""

    def __init__(self, spec: CounterSpec) -> None:
        assert spec.script is not None
        self._spec = spec
        self._script = spec.script
        self._origin: float | None = None

    def value(self, now_s: float) -> PointValue:
        if self._origin is None:
            self._origin = now_s
        return self.at(now_s - self._origin)

    def at(self, elapsed_s: float) -> float:
        """The value ``elapsed_s`` seconds into the script (pure: tests sample a whole day with it)."""
        spec = self._spec
        left = max(0.0, elapsed_s)
        total = spec.start
        length = sum(step.seconds or 0.0 for step in self._script)
        if spec.repeat and left >= length:
            rounds = int(left // length)
            if any(step.set is not None for step in self._script):
                total = self._play(spec.start, length)  # a set step makes every round end alike
            else:
                total += rounds * self._play(0.0, length)
            left -= rounds * length
        total = self._play(total, left)
        return total % spec.wrap if spec.wrap is not None else total

    def _play(self, total: float, seconds: float) -> float:
        """``total`` after ``seconds`` of the script from its first step."""
        for step in self._script:
            if step.set is not None:
                total = step.set
            span = seconds if step.seconds is None else min(seconds, step.seconds)
            total += step.rate * span
            seconds -= span
            if seconds <= 0:
                return total
        return total + self._script[-1].rate * seconds  # past the end: the last rate holds


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
        return Counter(spec) if spec.script is None else ScriptedCounter(spec)
    return Sequence(spec)
