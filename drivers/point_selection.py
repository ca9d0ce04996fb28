"""A device's choice of its profile's points (``points:`` in a driver's device config), any protocol.

    points: [voltage, energy]                       # these, with the profile's periods and deadbands
    points: {voltage: {period: 1, deadband: 0.5}}   # these, with overrides
    # no points: every readable point of the profile
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PointOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period: float | None = Field(None, gt=0)
    deadband: float | None = Field(None, ge=0)


PointChoice = list[str] | dict[str, PointOverride] | None


def selected_points(points: PointChoice) -> dict[str, PointOverride] | None:
    """The chosen points with their overrides; None: every readable point of the profile."""
    if points is None:
        return None
    if isinstance(points, list):
        return {name: PointOverride() for name in points}
    return dict(points)
