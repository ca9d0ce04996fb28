"""What a simulated point's value does over time: constant, sine, random walk, counter, sequence.

Written under a point's ``simulate:`` key in a firmware profile, or per point in a simulator spec
(``edgepost simulate --spec``). Values are engineering values (after scale and offset); the
simulator encodes them into the point's registers. A bare value (``simulate: 50``) is a constant.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConstantSpec(_Spec):
    """The same value on every read."""

    kind: Literal["constant"] = "constant"
    value: float | int | bool | str = Field(description="engineering value, enum label, text or true/false")


class SineSpec(_Spec):
    """``offset + amplitude * sin(2*pi*(t/period) + phase)``, t in seconds since the device started."""

    kind: Literal["sine"] = "sine"
    amplitude: float = Field(1.0, description="half the peak-to-peak swing")
    period: float = Field(60.0, gt=0, description="seconds")
    offset: float = Field(0.0, description="the middle of the swing")
    phase: float = Field(0.0, description="radians")


class RandomWalkSpec(_Spec):
    """Each read moves the value by a uniform step in [-step, step], kept inside [min, max]."""

    kind: Literal["random_walk"] = "random_walk"
    step: float = Field(1.0, ge=0, description="largest move per read")
    min: float = Field(description="lowest value")
    max: float = Field(description="highest value")
    start: float | None = Field(None, description="first value; default is the middle of [min, max]")
    seed: int = Field(0, description="the same seed gives the same walk")

    @model_validator(mode="after")
    def _ordered(self) -> RandomWalkSpec:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.start is not None and not self.min <= self.start <= self.max:
            raise ValueError(f"start {self.start} is outside [{self.min}, {self.max}]")
        return self


class CounterStep(_Spec):
    """One step of a counter's ``script``: the total rises at ``rate`` units per second for ``seconds``."""

    seconds: float | None = Field(None, gt=0, description="how long; left out (last step only): for ever")
    rate: float = Field(0.0, ge=0, description="units per second (0: no use)")
    set: float | None = Field(None, ge=0, description="jump to this value when the step starts (a meter swapped)")


class CounterSpec(_Spec):
    """A total that only rises (an energy or volume counter): ``start + per_hour * hours``, or, with a
    ``script``, a use pattern (water use that stops, never stops, a meter swapped) played from the first read."""

    kind: Literal["counter"] = "counter"
    start: float = Field(0.0, description="value when the device starts")
    per_hour: float = Field(1.0, ge=0, description="rise per hour of simulated time (without a script)")
    script: list[CounterStep] | None = Field(None, min_length=1, description="steps played in order, "
                                             "starting at the first read (instead of per_hour)")
    repeat: bool = Field(False, description="play the script again after its end; otherwise hold its last rate")
    wrap: float | None = Field(None, gt=0, description="the value rolls over to 0 here (a 5-digit register, say)")

    @model_validator(mode="after")
    def _script_or_rate(self) -> CounterSpec:
        if self.script is None:
            if self.repeat:
                raise ValueError("'repeat' needs a 'script'")
            return self
        if "per_hour" in self.model_fields_set:
            raise ValueError("give either 'per_hour' or a 'script', not both")
        if any(step.seconds is None for step in self.script[:-1]):
            raise ValueError("only the last step may leave out 'seconds' (it lasts for ever)")
        if self.repeat and self.script[-1].seconds is None:
            raise ValueError("a script that repeats needs 'seconds' on its last step")
        return self


class SequenceSpec(_Spec):
    """Scripted values: the next one on every read, or one per elapsed second."""

    kind: Literal["sequence"] = "sequence"
    values: list[float | int | bool | str] = Field(min_length=1, description="the values, in order")
    per: Literal["read", "second"] = Field("read", description="advance on every read, or every second")
    repeat: bool = Field(True, description="start over after the last value; otherwise hold it")


AnyGeneratorSpec = ConstantSpec | SineSpec | RandomWalkSpec | CounterSpec | SequenceSpec
GeneratorSpec = Annotated[AnyGeneratorSpec, Field(discriminator="kind")]
GENERATOR_SPECS: tuple[type[_Spec], ...] = (ConstantSpec, SineSpec, RandomWalkSpec, CounterSpec, SequenceSpec)


def bare_constant(value: Any) -> Any:
    """``50`` -> ``{kind: constant, value: 50}``; anything else unchanged (validated as a spec)."""
    if isinstance(value, bool | int | float | str):
        return {"kind": "constant", "value": value}
    return value
