"""Pure 2-D geometry in normalised frame coordinates (x right, y down, 0..1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

XY = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box, normalised to the frame size."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def centre(self) -> XY:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def point_in_polygon(point: XY, polygon: Sequence[XY]) -> bool:
    """Even-odd ray casting; a point exactly on an edge may fall either way."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        xa, ya = polygon[i]
        xb, yb = polygon[(i + 1) % n]
        if (ya > y) != (yb > y):
            x_cross = xa + (y - ya) * (xb - xa) / (yb - ya)
            if x < x_cross:
                inside = not inside
    return inside


def side_of_line(point: XY, a: XY, b: XY) -> float:
    """Negative on the left of a->b, positive on the right (image y pointing down), 0 on it."""
    return (b[0] - a[0]) * (point[1] - a[1]) - (b[1] - a[1]) * (point[0] - a[0])


def segments_intersect(p: XY, q: XY, a: XY, b: XY) -> bool:
    """Whether segment p-q crosses segment a-b (touching counts)."""
    d1 = side_of_line(p, a, b)
    d2 = side_of_line(q, a, b)
    d3 = side_of_line(a, p, q)
    d4 = side_of_line(b, p, q)
    return d1 * d2 <= 0 and d3 * d4 <= 0 and not (d1 == 0 and d2 == 0)
