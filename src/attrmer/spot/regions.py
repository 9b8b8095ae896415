"""The regions of the aligned face that spotting measures: brows, eyes, the nose tip, cheeks,
mouth corners and chin, each a box of the aligned square with the role it plays (expression
evidence, blink evidence or the reference of head motion); the window of the square that holds
them (`FACE_WINDOW`); the weights that average a per-pixel map over each box; and the pixel unit
motion is reported in (`ALIGNED_SIDE`). Part of the spotting method described in `attrmer.spot`.

Not for measuring the regions in a video (`attrmer.spot.tracking`), nor for the face oval of a
short clip's motion signal (`attrmer.spot.signal.face_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Motion is reported in pixels of a face aligned at this side (the align stage's default), so
# the thresholds keep their meaning whatever `flow_size` is.
ALIGNED_SIDE = 112


@dataclass(frozen=True)
class Region:
    """A box of the aligned face, as fractions of its side: centre and half extents.

    Placed on the mean 68-point shape of the bundled face stills aligned onto `TEMPLATE`
    (their landmarks scatter by about 0.01 of the side around it, half a pixel at 48 px)."""

    name: str
    centre: tuple[float, float]
    half: tuple[float, float]
    role: str  # "upper" or "mouth" (expression evidence), "eye" or "nose"


REGIONS: tuple[Region, ...] = (
    # Brows (AU1, AU2, AU4): landmarks 17-21 and 22-26, kept clear of the upper eyelids.
    Region("brow_left", (0.33, 0.175), (0.11, 0.05), "upper"),
    Region("brow_right", (0.67, 0.175), (0.11, 0.05), "upper"),
    # Eyes (blinks, AU43, AU45): landmarks 36-41 and 42-47.
    Region("eye_left", (0.35, 0.295), (0.085, 0.045), "eye"),
    Region("eye_right", (0.65, 0.295), (0.085, 0.045), "eye"),
    # The nose tip (landmark 30), the face's most rigid part and far enough from the eyes,
    # brows and mouth not to move with them: the head's motion.
    Region("nose", (0.50, 0.445), (0.035, 0.035), "nose"),
    # Cheeks (AU6, AU9-11), beside the nose below the eyes.
    Region("cheek_left", (0.30, 0.46), (0.07, 0.06), "upper"),
    Region("cheek_right", (0.70, 0.46), (0.07, 0.06), "upper"),
    # Mouth corners (AU10, AU12, AU14, AU15, AU20): landmarks 48 and 54.
    Region("mouth_left", (0.38, 0.636), (0.06, 0.05), "mouth"),
    Region("mouth_right", (0.625, 0.636), (0.06, 0.05), "mouth"),
    # Chin (AU17), between the lower lip (57) and the chin's tip (8).
    Region("chin", (0.50, 0.77), (0.09, 0.05), "mouth"),
)
REGION_NAMES = tuple(r.name for r in REGIONS)
NOSE = REGION_NAMES.index("nose")
EYES = np.array([i for i, r in enumerate(REGIONS) if r.role == "eye"])
# Expression evidence: every region but the eyes and the nose. "upper" regions border the
# eyes, and a blink's eyelid reaches them at this size: they are left out of the micro curve
# during blinks. "mouth" regions move when the face speaks.
EXPRESSION = np.array([i for i, r in enumerate(REGIONS) if r.role in ("upper", "mouth")])
NEAR_EYES = np.array([j for j, i in enumerate(EXPRESSION) if REGIONS[i].role == "upper"])
MOUTH = np.array([i for i, r in enumerate(REGIONS) if r.role == "mouth"])
CHIN = REGION_NAMES.index("chin")


# The part of the aligned square the regions lie in, as fractions of its side (left, top,
# right, bottom): flow is measured on this window alone, 45 % of the square's pixels.
FACE_WINDOW = (0.18, 0.10, 0.82, 0.84)


def face_window(size: int) -> tuple[slice, slice]:
    """(rows, columns) of the aligned square of side `size` that `FACE_WINDOW` covers."""
    left, top, right, bottom = (round(f * size) for f in FACE_WINDOW)
    return slice(top, bottom), slice(left, right)


def region_weights(size: int) -> np.ndarray:
    """(regions, window pixels) float32: row r averages the flow inside region r's box, over
    the pixels of `face_window(size)` in row-major order."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    rows, cols = face_window(size)
    x, y = xs[rows, cols] / size, ys[rows, cols] / size
    weights = np.zeros((len(REGIONS), x.size), np.float32)
    for r, region in enumerate(REGIONS):
        inside = ((np.abs(x - region.centre[0]) <= region.half[0])
                  & (np.abs(y - region.centre[1]) <= region.half[1]))
        if not inside.any():
            raise ValueError(f"region {region.name} holds no pixel at {size} px")
        weights[r] = inside.ravel() / inside.sum()
    return weights
