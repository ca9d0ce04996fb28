"""What analytics needs from a detection, so it does not depend on the inference runtime."""

from __future__ import annotations

from typing import Protocol


class DetectionLike(Protocol):
    """A detected object in frame pixels (the inference runtime's ``Detection`` satisfies this)."""

    @property
    def class_id(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def x1(self) -> float: ...
    @property
    def y1(self) -> float: ...
    @property
    def x2(self) -> float: ...
    @property
    def y2(self) -> float: ...
