"""Value generators for simulated points: constant, sine, random walk, scripted sequence, scripted counter.

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


class CounterStep(_Spec):
    """One step of a counter's script: it rises at ``rate`` units per second for ``seconds``."""

    seconds: float | None = Field(None, gt=0, description="how long; None (last step only): for ever")
    rate: float = Field(0.0, ge=0, description="units per second (0: no use)")
    set: float | None = Field(None, ge=0, description="jump to this value when the step starts (a meter swapped)")


class CounterSpec(_Spec):
    """A totaliser (water, gas or energy meter) whose use follows a script.

    The script's clock starts at the first read, so a meter served before the agent starts polling
    still plays its script from the beginning. ``wrap`` rolls the value over to 0 (a 5-digit register
    at 99999.999, say); a step's ``set`` models a meter replaced by one starting from another reading.
    """

    kind: Literal["counter"] = "counter"
    start: float = Field(0.0, ge=0)
    script: list[CounterStep] = Field(min_length=1)
    repeat: bool = Field(False, description="play the script again after its end; otherwise hold its last rate")
    wrap: float | None = Field(None, gt=0, description="the value rolls over to 0 here")

    @model_validator(mode="after")
    def _bounded_steps(self) -> CounterSpec:
        if any(step.seconds is None for step in self.script[:-1]):
            raise ValueError("only the last step may leave out 'seconds' (it lasts for ever)")
        if self.repeat and self.script[-1].seconds is None:
            raise ValueError("a script that repeats needs 'seconds' on its last step")
        return self


GeneratorSpec = Annotated[
    ConstantSpec | SineSpec | RandomWalkSpec | SequenceSpec | CounterSpec, Field(discriminator="kind")
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


class ScriptedCounter:
    """Plays a ``CounterSpec``: the value is the start plus each step's rate over the time spent in it."""

    def __init__(self, spec: CounterSpec) -> None:
        self._spec = spec
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
        length = sum(step.seconds or 0.0 for step in spec.script)
        if spec.repeat and left >= length:
            rounds = int(left // length)
            if any(step.set is not None for step in spec.script):
                total = self._play(spec.start, length)  # a set step makes every round end alike
            else:
                total += rounds * self._play(0.0, length)
            left -= rounds * length
        total = self._play(total, left)
        return total % spec.wrap if spec.wrap is not None else total

    def _play(self, total: float, seconds: float) -> float:
        """``total`` after ``seconds`` of the script from its first step."""
        for step in self._spec.script:
            if step.set is not None:
                total = step.set
            span = seconds if step.seconds is None else min(seconds, step.seconds)
            total += step.rate * span
            seconds -= span
            if seconds <= 0:
                return total
        return total + self._spec.script[-1].rate * seconds  # past the end: the last rate holds


def make_source(spec: ConstantSpec | SineSpec | RandomWalkSpec | SequenceSpec | CounterSpec) -> ValueSource:
    if isinstance(spec, CounterSpec):
        return ScriptedCounter(spec)
    if isinstance(spec, ConstantSpec):
        return Constant(spec)
    if isinstance(spec, SineSpec):
        return Sine(spec)
    if isinstance(spec, RandomWalkSpec):
        return RandomWalk(spec)
    return Sequence(spec)
