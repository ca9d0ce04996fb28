"""Value generators for simulated points: constant, sine, random walk, scripted sequence.

Each spec is a pydantic model (``kind:`` discriminated); ``make_source`` turns one into a
``ValueSource`` whose ``value(now_s)`` is called once per read that touches the point, with the
seconds since the device started. Values are engineering values; the codec encodes them.
"""

from __future__ import annotations

import math
import random
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.records import PointValue


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConstantSpec(_Spec):
    kind: Literal["constant"] = "constant"
    value: float | int | bool | str


class SineSpec(_Spec):
    """``offset + amplitude * sin(2*pi*(t/period) + phase)``."""

    kind: Literal["sine"] = "sine"
    amplitude: float = 1.0
    period: float = Field(60.0, gt=0, description="seconds")
    offset: float = 0.0
    phase: float = Field(0.0, description="radians")


class RandomWalkSpec(_Spec):
    """Each read moves the value by a uniform step in [-step, step], kept inside [min, max]."""

    kind: Literal["random_walk"] = "random_walk"
    step: float = Field(1.0, ge=0)
    min: float
    max: float
    start: float | None = Field(None, description="first value; default is the middle of [min, max]")
    seed: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> RandomWalkSpec:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.start is not None and not self.min <= self.start <= self.max:
            raise ValueError(f"start {self.start} is outside [{self.min}, {self.max}]")
        return self


class SequenceSpec(_Spec):
    """Scripted values: the next one on every read, or one per elapsed second."""

    kind: Literal["sequence"] = "sequence"
    values: list[float | int | bool | str] = Field(min_length=1)
    per: Literal["read", "second"] = "read"
    repeat: bool = Field(True, description="start over after the last value; otherwise hold it")


GeneratorSpec = Annotated[
    ConstantSpec | SineSpec | RandomWalkSpec | SequenceSpec, Field(discriminator="kind")
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


def make_source(spec: ConstantSpec | SineSpec | RandomWalkSpec | SequenceSpec) -> ValueSource:
    if isinstance(spec, ConstantSpec):
        return Constant(spec)
    if isinstance(spec, SineSpec):
        return Sine(spec)
    if isinstance(spec, RandomWalkSpec):
        return RandomWalk(spec)
    return Sequence(spec)
