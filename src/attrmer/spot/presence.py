"""Until which frame the face found at a clip's start is still there.

Alignment finds the face once per clip and warps every frame with that one transform, so a
face that walks out of the shot (or a cut to another scene) leaves crops of background that
the motion signal reads as the strongest "expression" of the clip. `face_span` finds where
that happens: frames whose aligned crop no longer resembles the first one (normalised
correlation inside the face oval below `SIMILAR`) are suspects, and a suspect in which dlib's
detector finds no face in the whole frame ends the span at the start of its run of suspects.
Only suspects are checked, and at most `MAX_CHECKS` of them, so a clip whose face stays costs
nothing beyond the correlation.

On the shared real clips the correlation stays at 0.63 or above for a smile and for speech,
falls to 0.19 while a woman turns her head and cries (her face is still detected there), and
is negative once the face of `face_noface.mov` is gone.
Not a face tracker: a face that leaves and comes back ends the span where it left.
"""

from __future__ import annotations

import numpy as np

from attrmer.preprocess.align import FaceAligner
from attrmer.spot.signal import SIGNAL_SIZE, face_mask, small_grey

SIMILAR = 0.5
MAX_CHECKS = 12


def appearance_similarity(aligned: np.ndarray, size: int = SIGNAL_SIZE) -> np.ndarray:
    """(n,) normalised correlation of each aligned frame's face oval with frame 0's; a frame
    without contrast (a blank frame) reads NaN."""
    pixels = small_grey(aligned, size).astype(np.float64)[:, face_mask(size)]
    pixels -= pixels.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(pixels, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = pixels / norms[:, None]
        return unit @ unit[0]


def face_span(frames: list[np.ndarray], aligned: np.ndarray, aligner: FaceAligner) -> int:
    """The number of leading frames in which the clip's face is still there (len(frames)
    when it never leaves)."""
    similarity = appearance_similarity(aligned)
    suspect = ~(similarity >= SIMILAR)  # NaN is a suspect too
    suspects = np.flatnonzero(suspect)
    if suspects.size == 0:
        return len(frames)
    stride = max(1, -(-suspects.size // MAX_CHECKS))
    for index in suspects[::stride]:
        if aligner.detect(frames[index]) is None and aligner.detect(frames[index], 1) is None:
            start = int(index)
            while start > 0 and suspect[start - 1]:
                start -= 1
            return max(start, 1)
    return len(frames)
