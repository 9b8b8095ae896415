"""Expression intervals in a long video, spotted or annotated, and their overlap.

An interval is 1-based and inclusive in the video's own frame numbers (the numbers the
CAS(ME)^3 sheets and the JPG names use): onset, apex, offset. Its `kind` is "micro" or
"macro"; `score` is the spotter's peak height for a spotted interval and None for ground
truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("micro", "macro")


@dataclass(frozen=True)
class Interval:
    onset: int
    apex: int
    offset: int
    kind: str
    score: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"interval kind {self.kind!r} is not micro or macro")
        if not self.onset <= self.offset:
            raise ValueError(f"interval {self.onset}-{self.offset}: onset after offset")

    @property
    def frames(self) -> int:
        return self.offset - self.onset + 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def iou(a: Interval, b: Interval) -> float:
    """Intersection over union of two intervals' frames (the MEGC spotting criterion)."""
    inter = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    if inter <= 0:
        return 0.0
    return inter / (a.frames + b.frames - inter)
