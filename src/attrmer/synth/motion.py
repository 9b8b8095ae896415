"""Where each FACS action unit moves the face: displacement patterns on dlib's 68 landmarks.

An AU is a table of (points, up, out) entries: the listed control points move `up` (towards the
forehead) and `out` (away from the face's midline; negative: towards it) in the face's own
frame, so a tilted face moves along its own axes. Each table is scaled so that its most-moved
point moves by exactly the AU's amplitude; what moves and in which direction follows the FACS
descriptions (Ekman & Friesen): AU12 pulls the lip corners up and out, AU4 lowers the brows
and draws them together, AU15 pulls the lip corners down, and so on.

Control points are the 68 landmarks plus a few points derived from them where FACS names skin
that carries no landmark (forehead, cheeks, chin boss, the skin beside and below the lip
corners). The jaw outline and points high on the forehead stay where they are in an AU: they
pin the face's outline in place for the warp. Only the mouth stretch (AU27, the jaw pulled wide
open, whose table names them) and speech (`speech_displacement`) bring the lower outline down
with the chin.

Sides. `side="L"` means the subject's own left, as FACS and the CASME II coders use it; on a
frontal, unmirrored image the subject's left is the image's RIGHT. dlib numbers the landmarks as
the subject sees them too: points 36-41 are the subject's right eye (image left), 42-47 the left
eye (image right), 48 the right lip corner (image left), 54 the left one (image right).

Not for warping pixels (`warp.py`) or timing (`render.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Derived control points, appended after the 68 landmarks.
FOREHEAD_LOW = tuple(range(68, 78))  # above brow points 17..26, moving partly with the brows
FOREHEAD_HIGH = tuple(range(78, 84))  # high above brow points 17, 19, 21, 22, 24, 26: fixed
CHEEK_RIGHT, CHEEK_LEFT = 84, 85
CHIN_BOSS = 86
BELOW_CORNER_RIGHT, BELOW_CORNER_LEFT = 87, 88
DIMPLE_RIGHT, DIMPLE_LEFT = 89, 90
GLABELLA = 91
N_CONTROL_POINTS = 92

JAW_OUTLINE = tuple(range(17))
# Points that never move: the face outline and the top of the forehead.
FIXED_POINTS = JAW_OUTLINE + FOREHEAD_HIGH

BLINK_AU = 45


def _above_brow(brow_point: int) -> int:
    """Index of the low forehead point above dlib brow point 17..26."""
    return 68 + brow_point - 17


@dataclass(frozen=True)
class AuMotion:
    """One action unit of a clip: its number, side (None, "L", "R") and apex amplitude.

    amplitude: displacement of the AU's most-moved point at apex, in pixels of the 112×112
    aligned face (the align stage's geometry); the renderer converts it to frame pixels.
    """

    number: int
    side: str | None = None
    amplitude: float = 1.0

    @property
    def code(self) -> str:
        """The AU as a CASME II sheet writes it: `12`, `L12`, `R4`."""
        return f"{self.side or ''}{self.number}"


# (points, up, out) per AU. Values are relative; each table is rescaled to a peak of 1.
_Pattern = tuple[tuple[tuple[int, ...], float, float], ...]
AU_PATTERNS: dict[int, _Pattern] = {
    # Inner brow raiser: inner brow corners and the forehead above them rise.
    1: (
        ((21, 22), 1.0, 0.05), ((20, 23), 0.7, 0.0), ((19, 24), 0.35, 0.0), ((18, 25), 0.1, 0.0),
        ((_above_brow(21), _above_brow(22)), 0.55, 0.0),
        ((_above_brow(20), _above_brow(23)), 0.4, 0.0), ((GLABELLA,), 0.35, 0.0),
    ),
    # Outer brow raiser: the lateral brow and forehead above it rise.
    2: (
        ((17, 26), 1.0, 0.0), ((18, 25), 0.85, 0.0), ((19, 24), 0.5, 0.0), ((20, 23), 0.2, 0.0),
        ((_above_brow(17), _above_brow(26)), 0.5, 0.0),
        ((_above_brow(18), _above_brow(25)), 0.45, 0.0),
        ((_above_brow(19), _above_brow(24)), 0.25, 0.0),
    ),
    # Brow lowerer: brows lowered and drawn together, most at the inner corners.
    4: (
        ((21, 22), -0.6, -0.8), ((20, 23), -0.6, -0.45), ((19, 24), -0.5, -0.2),
        ((18, 25), -0.3, 0.0), ((17, 26), -0.15, 0.0),
        ((_above_brow(21), _above_brow(22)), -0.3, -0.45),
        ((_above_brow(20), _above_brow(23)), -0.3, -0.2), ((GLABELLA,), -0.45, 0.0),
        ((37, 38, 43, 44), -0.15, 0.0),
    ),
    # Upper lid raiser: the upper lids rise, widening the eye.
    5: (((37, 38, 43, 44), 1.0, 0.0), ((36, 39, 42, 45), 0.15, 0.0)),
    # Cheek raiser: the cheeks lift, pushing the lower lids up; crow's feet at the outer corners.
    6: (
        ((CHEEK_RIGHT, CHEEK_LEFT), 1.0, 0.1), ((40, 41, 46, 47), 0.6, 0.0),
        ((36, 45), 0.3, -0.1), ((DIMPLE_RIGHT, DIMPLE_LEFT), 0.3, 0.0),
    ),
    # Lid tightener: the lower lids rise and straighten, the upper lids drop a little.
    7: (((40, 41, 46, 47), 1.0, 0.0), ((37, 38, 43, 44), -0.3, 0.0), ((36, 45), 0.1, -0.2)),
    # Nose wrinkler: the sides of the nose and the skin of its bridge pull up; the inner brows
    # come down a little and the upper lip follows the nose.
    9: (
        ((31, 35), 1.0, 0.15), ((32, 33, 34), 0.65, 0.0), ((30,), 0.5, 0.0), ((29,), 0.35, 0.0),
        ((28,), 0.2, 0.0), ((21, 22), -0.35, -0.15), ((GLABELLA,), -0.3, 0.0),
        ((50, 51, 52), 0.35, 0.0), ((CHEEK_RIGHT, CHEEK_LEFT), 0.25, 0.0),
    ),
    # Upper lip raiser: the upper lip rises, most in its middle part; the nostril wings follow.
    10: (
        ((50, 51, 52), 1.0, 0.0), ((61, 62, 63), 0.9, 0.0), ((49, 53), 0.7, 0.1),
        ((48, 54), 0.3, 0.0), ((60, 64), 0.3, 0.0), ((31, 35), 0.3, 0.1),
        ((32, 33, 34), 0.15, 0.0),
    ),
    # Lip corner puller: the corners pull obliquely up and out; the cheeks follow.
    12: (
        ((48, 54), 0.7, 0.75), ((60, 64), 0.6, 0.6), ((49, 59, 53, 55), 0.35, 0.4),
        ((50, 58, 52, 56), 0.15, 0.15), ((CHEEK_RIGHT, CHEEK_LEFT), 0.35, 0.15),
        ((DIMPLE_RIGHT, DIMPLE_LEFT), 0.5, 0.5),
        ((BELOW_CORNER_RIGHT, BELOW_CORNER_LEFT), 0.3, 0.3),
    ),
    # Dimpler: the corners tighten and pull back (outwards in a frontal view), the skin beside
    # them bunches into the dimple.
    14: (
        ((48, 54), 0.2, 0.9), ((60, 64), 0.15, 0.7), ((49, 59, 53, 55), 0.1, 0.35),
        ((DIMPLE_RIGHT, DIMPLE_LEFT), 0.0, -0.45),
    ),
    # Lip corner depressor: the corners pull down, with the skin below them.
    15: (
        ((48, 54), -1.0, 0.15), ((60, 64), -0.8, 0.1), ((59, 55), -0.6, 0.0),
        ((49, 53), -0.3, 0.0), ((58, 56), -0.2, 0.0),
        ((BELOW_CORNER_RIGHT, BELOW_CORNER_LEFT), -0.55, 0.0),
    ),
    # Chin raiser: the chin boss pushes up and the lower lip with it.
    17: (
        ((CHIN_BOSS,), 1.0, 0.0), ((57,), 0.75, 0.0), ((56, 58), 0.65, 0.0), ((66,), 0.5, 0.0),
        ((65, 67), 0.45, 0.0), ((55, 59), 0.35, 0.0),
        ((BELOW_CORNER_RIGHT, BELOW_CORNER_LEFT), 0.3, 0.0),
    ),
    # Lip stretcher: the corners pull laterally, the lips flatten.
    20: (
        ((48, 54), -0.2, 1.0), ((60, 64), -0.15, 0.85), ((49, 59, 53, 55), -0.1, 0.5),
        ((50, 52, 56, 58), 0.0, 0.2), ((BELOW_CORNER_RIGHT, BELOW_CORNER_LEFT), -0.1, 0.4),
        ((DIMPLE_RIGHT, DIMPLE_LEFT), 0.0, 0.4),
    ),
    # Lip tightener: the red of the lips narrows, the corners draw in.
    23: (
        ((50, 51, 52), -0.55, 0.0), ((56, 57, 58), 0.55, 0.0), ((48, 54), 0.0, -0.45),
        ((60, 64), 0.0, -0.3), ((49, 53, 55, 59), 0.0, -0.2),
    ),
    # Lip pressor: the lips press together, the lower lip pushed up most.
    24: (
        ((50, 51, 52), -0.5, 0.0), ((61, 62, 63), -0.25, 0.0), ((56, 57, 58), 0.8, 0.0),
        ((65, 66, 67), 0.35, 0.0), ((CHIN_BOSS,), 0.3, 0.0), ((48, 54), 0.0, -0.15),
    ),
    # Lips part: the lower lip drops away from the upper one.
    25: (
        ((65, 66, 67), -1.0, 0.0), ((56, 57, 58), -0.8, 0.0), ((61, 62, 63), 0.3, 0.0),
        ((55, 59), -0.45, 0.0), ((CHIN_BOSS,), -0.2, 0.0),
    ),
    # Jaw drop: the lower lip and the chin boss drop (the outline stays: a micro-expression's
    # jaw movement is a fraction of a pixel there).
    26: (
        ((56, 57, 58), -1.0, 0.0), ((65, 66, 67), -1.0, 0.0), ((55, 59), -0.6, 0.0),
        ((CHIN_BOSS,), -0.8, 0.0), ((BELOW_CORNER_RIGHT, BELOW_CORNER_LEFT), -0.5, 0.0),
        ((48, 54, 60, 64), -0.2, 0.0),
    ),
    # Mouth stretch: the jaw pulled down and open, farther than a jaw drop; the chin and the
    # jaw's outline below the mouth come down with it, as in a full surprise.
    27: (
        ((56, 57, 58), -1.0, 0.0), ((65, 66, 67), -1.0, 0.0), ((55, 59), -0.7, 0.0),
        ((CHIN_BOSS,), -0.95, 0.0), ((BELOW_CORNER_RIGHT, BELOW_CORNER_LEFT), -0.6, 0.0),
        ((48, 54, 60, 64), -0.3, -0.1), ((61, 62, 63), -0.1, 0.0),
        ((8,), -0.9, 0.0), ((7, 9), -0.8, 0.0), ((6, 10), -0.6, 0.0), ((5, 11), -0.35, 0.0),
        ((4, 12), -0.1, 0.0),
    ),
    # Blink: the upper lids come down. Its amplitude is a share of the eye's opening, not a
    # micro-expression amplitude (see `blink_displacement`).
    BLINK_AU: (((37, 38, 43, 44), -1.0, 0.0), ((40, 41, 46, 47), 0.1, 0.0)),
}

SUPPORTED_AUS: tuple[int, ...] = tuple(sorted(AU_PATTERNS))


@dataclass(frozen=True)
class FaceFrame:
    """A face's own axes, from its landmarks: `across` runs from the subject's right eye to the
    left one (image left to right on an upright face), `down` from the brows to the chin."""

    landmarks: np.ndarray  # (68, 2) float64, pixels
    centre: np.ndarray  # midpoint between the eye centres
    across: np.ndarray  # unit vector
    down: np.ndarray  # unit vector
    interocular: float  # distance between the eye centres, pixels

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceFrame:
        landmarks = np.asarray(landmarks, np.float64)
        if landmarks.shape != (68, 2):
            raise ValueError(f"expected 68×2 landmarks, got shape {landmarks.shape}")
        right_eye, left_eye = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
        across = left_eye - right_eye
        interocular = math.hypot(*across)
        across = across / interocular
        down = np.array([-across[1], across[0]])  # +90° in image coordinates (y down)
        return cls(landmarks, (left_eye + right_eye) / 2, across, down, interocular)

    def lateral(self, points: np.ndarray) -> np.ndarray:
        """Signed distance from the midline along `across`: > 0 on the subject's left."""
        midline_x = self._along_across(self.landmarks[[27, 28, 29, 30, 33, 51, 57, 8]])
        return self._along_across(points) - float(np.median(midline_x))

    def _along_across(self, points: np.ndarray) -> np.ndarray:
        # Elementwise rather than `points @ across`: BLAS's result depends on the CPU's
        # kernel, and a renderer's frames should not (see `attrmer.synth.warp`).
        return points[..., 0] * self.across[0] + points[..., 1] * self.across[1]


def control_points(face: FaceFrame) -> np.ndarray:
    """The 68 landmarks followed by the derived points (N_CONTROL_POINTS × 2)."""
    lm, iod, up, across = face.landmarks, face.interocular, -face.down, face.across
    brows = lm[17:27]
    forehead_low = brows + 0.3 * iod * up
    forehead_high = lm[[17, 19, 21, 22, 24, 26]] + 0.9 * iod * up
    lower_lid_right, lower_lid_left = lm[[40, 41]].mean(0), lm[[46, 47]].mean(0)
    cheek_right = 0.55 * lower_lid_right + 0.45 * lm[48] - 0.12 * iod * across
    cheek_left = 0.55 * lower_lid_left + 0.45 * lm[54] + 0.12 * iod * across
    chin_boss = 0.5 * lm[57] + 0.5 * lm[8]
    below_right = 0.55 * lm[48] + 0.45 * lm[5]
    below_left = 0.55 * lm[54] + 0.45 * lm[11]
    dimple_right = lm[48] - 0.2 * iod * across
    dimple_left = lm[54] + 0.2 * iod * across
    glabella = (lm[21] + lm[22]) / 2 + 0.05 * iod * up
    derived = np.vstack([
        forehead_low, forehead_high, cheek_right, cheek_left, chin_boss, below_right,
        below_left, dimple_right, dimple_left, glabella,
    ])
    points = np.vstack([lm, derived])
    assert len(points) == N_CONTROL_POINTS
    return points


def _side_weights(face: FaceFrame, points: np.ndarray, side: str | None) -> np.ndarray:
    """1 on the moving side, 0 on the other, a short ramp across the midline."""
    if side is None:
        return np.ones(len(points))
    if side not in ("L", "R"):
        raise ValueError(f"side must be None, 'L' or 'R', not {side!r}")
    lateral = face.lateral(points) * (1.0 if side == "L" else -1.0)
    return np.clip(0.5 + lateral / (0.15 * face.interocular), 0.0, 1.0)


def pattern_displacement(face: FaceFrame, number: int, side: str | None = None) -> np.ndarray:
    """Displacement of every control point for AU `number` at unit amplitude (peak 1 px)."""
    if number not in AU_PATTERNS:
        raise ValueError(f"AU{number} has no motion pattern; supported: {SUPPORTED_AUS}")
    points = control_points(face)
    lateral = face.lateral(points)
    # Direction "out" per point; a soft sign so points on the midline do not move sideways.
    out_sign = np.clip(lateral / (0.05 * face.interocular), -1.0, 1.0)
    up_vector = -face.down
    moves = np.zeros((N_CONTROL_POINTS, 2))
    for indices, up, out in AU_PATTERNS[number]:
        for i in indices:
            moves[i] += up * up_vector + out * out_sign[i] * face.across
    peak = np.linalg.norm(moves, axis=1).max()
    moves /= peak
    moves *= _side_weights(face, points, side)[:, None]
    # The outline stays pinned unless the AU's own table moves it (AU27).
    named = {i for indices, _, _ in AU_PATTERNS[number] for i in indices}
    moves[[i for i in FIXED_POINTS if i not in named]] = 0.0
    return moves


def expression_displacement(
    face: FaceFrame, aus: list[AuMotion], pixels_per_aligned_pixel: float
) -> np.ndarray:
    """Control-point displacement (frame pixels) of a combination of AUs at apex."""
    total = np.zeros((N_CONTROL_POINTS, 2))
    for au in aus:
        total += au.amplitude * pixels_per_aligned_pixel * pattern_displacement(
            face, au.number, au.side
        )
    return total


def eye_opening(face: FaceFrame) -> float:
    """Mean distance between the upper and the lower lid points, pixels."""
    lm = face.landmarks
    return float(np.mean(np.linalg.norm(lm[[37, 38, 43, 44]] - lm[[41, 40, 47, 46]], axis=1)))


# Speech: the jaw opens and the lips part, the jaw outline coming down with the chin (unlike
# a micro-expression's jaw drop, which stays a fraction of a pixel at the outline). Weights
# of the outline points 4..12, chin (8) most.
_SPEECH_OUTLINE = {4: 0.15, 5: 0.4, 6: 0.7, 7: 0.9, 8: 1.0, 9: 0.9, 10: 0.7, 11: 0.4, 12: 0.15}


def speech_displacement(face: FaceFrame) -> np.ndarray:
    """Control-point displacement of the mouth opening in speech, peak 1 px (frame pixels):
    AU26 with AU25 and the jaw outline following the chin down."""
    moves = pattern_displacement(face, 26) + 0.6 * pattern_displacement(face, 25)
    for point, weight in _SPEECH_OUTLINE.items():
        moves[point] = weight * face.down
    return moves / np.linalg.norm(moves, axis=1).max()


def blink_displacement(face: FaceFrame, closure: float) -> np.ndarray:
    """Control-point displacement of a blink closing the eyes by `closure` (0..1) of their
    opening."""
    return closure * eye_opening(face) * pattern_displacement(face, BLINK_AU)
