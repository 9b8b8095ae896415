"""How much the face moves at each frame, against a neutral reference, and where it peaks.

`motion_signal` measures every frame of an aligned clip against its first frame (taken as
neutral): Farneback flow at a reduced size, the face's median displacement subtracted (what is
left of head motion after the one-per-clip alignment), the eyes left out (a blink is the
largest fast motion in most footage and says nothing of the expression), and the 99th
percentile of what remains inside the face oval, in pixels of the aligned clip (a
micro-expression moves a few percent of the face, as in `attrmer.model.inputs.motion_level`).

`find_window` reads that signal the way a coder reads a clip: the apex is the frame of
strongest motion, the onset the last frame before it where motion is still at the clip's
resting level, the offset the first frame after it where it is back there. "Resting level"
is the baseline (a low percentile of the signal) plus `fraction` of the peak's height above
it. A clip whose peak never clears `min_peak` pixels above the baseline holds no expression
that the signal can see, and the whole clip is kept (`Window.found` is False). At 0.2 px the
window is found in 138 of the 168 built-in clips (their apex within a median 1 frame of the
annotated one); the rest are kept whole, which is what they are anyway.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from attrmer.config import FlowConfig
from attrmer.preprocess.align import TEMPLATE
from attrmer.preprocess.clip import grey_frames
from attrmer.preprocess.flow import farneback_flow

SIGNAL_SIZE = 56  # the side flow is measured at: facial action is still several pixels here
EYE_HALF_WIDTH, EYE_HALF_HEIGHT = 0.10, 0.07  # of the side, around each template eye
FACE_CENTRE, FACE_RADII = (0.5, 0.56), (0.40, 0.42)  # the face oval, as fractions of the side
PERCENTILE = 99.0
BASELINE_PERCENTILE = 10.0


@dataclass(frozen=True)
class MotionSignal:
    """Per-frame motion (pixels at the aligned size) against frame `reference` (0-based)."""

    values: np.ndarray
    reference: int = 0


@dataclass(frozen=True)
class Window:
    """A span of a clip, 0-based and inclusive; `found` is False when no peak cleared the
    noise and the span is the whole clip."""

    onset: int
    apex: int
    offset: int
    found: bool
    peak: float  # pixels above the baseline at the apex
    baseline: float

    @property
    def frames(self) -> int:
        return self.offset - self.onset + 1


def face_mask(side: int) -> np.ndarray:
    """(side, side) bool: inside the face oval of the alignment template, eyes excluded."""
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float64) + 0.5
    x, y = xs / side, ys / side
    inside = ((x - FACE_CENTRE[0]) / FACE_RADII[0]) ** 2 + \
        ((y - FACE_CENTRE[1]) / FACE_RADII[1]) ** 2 <= 1.0
    for eye_x, eye_y in TEMPLATE[:2]:
        inside &= ~((np.abs(x - eye_x) <= EYE_HALF_WIDTH) & (np.abs(y - eye_y) <= EYE_HALF_HEIGHT))
    return inside


def small_grey(aligned: np.ndarray, size: int = SIGNAL_SIZE) -> np.ndarray:
    """(n, S, S, 3) aligned RGB uint8 frames -> (n, size, size) grey uint8, area-averaged: what
    the motion signal and the face-presence check (`attrmer.spot.presence`) both read."""
    return np.stack([cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
                     for frame in grey_frames(aligned)])


def motion_signal(aligned: np.ndarray, *, flow_cfg: FlowConfig | None = None,
                  size: int = SIGNAL_SIZE) -> MotionSignal:
    """(n, S, S, 3) aligned RGB uint8 frames -> the motion of each frame against frame 0.

    Frame 0 reads 0 by construction.
    """
    if aligned.ndim != 4 or aligned.shape[0] < 2:
        raise ValueError(f"motion_signal needs (n >= 2, S, S, 3) frames, got {aligned.shape}")
    side = aligned.shape[1]
    small = small_grey(aligned, size)
    cfg = dataclasses.replace(flow_cfg or FlowConfig(), reference="onset")
    flow = farneback_flow(small, cfg)  # (2, n - 1, size, size), every field against frame 0
    mask = face_mask(size)
    u, v = flow[0][:, mask], flow[1][:, mask]  # (n - 1, pixels)
    u = u - np.median(u, axis=1, keepdims=True)
    v = v - np.median(v, axis=1, keepdims=True)
    magnitude = np.percentile(np.hypot(u, v), PERCENTILE, axis=1) * (side / size)
    return MotionSignal(np.concatenate([[0.0], magnitude]).astype(np.float32))


def find_window(signal: MotionSignal, *, fraction: float = 0.2, min_peak: float = 0.2,
                smooth: int = 3) -> Window:
    """The onset–apex–offset window of the strongest motion in `signal` (see the module)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction: {fraction} is not in (0, 1)")
    values = np.asarray(signal.values, dtype=np.float64)
    last = len(values) - 1
    if smooth > 1 and len(values) >= smooth:
        padded = np.pad(values, smooth // 2, mode="edge")
        values = np.array([np.median(padded[i:i + smooth]) for i in range(len(values))])
    baseline = float(np.percentile(values, BASELINE_PERCENTILE))
    apex = int(np.argmax(values))
    peak = float(values[apex]) - baseline
    if peak < min_peak:
        return Window(0, apex, last, found=False, peak=peak, baseline=baseline)
    rest = baseline + fraction * peak
    before = np.flatnonzero(values[:apex] <= rest)
    after = np.flatnonzero(values[apex + 1:] <= rest)
    onset = int(before[-1]) if before.size else 0
    offset = apex + 1 + int(after[0]) if after.size else last
    return Window(onset, apex, offset, found=True, peak=peak, baseline=baseline)
