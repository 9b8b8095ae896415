"""MDMO (Liu et al., 2016): the main directional mean optical flow of 36 facial regions.

For every frame of a clip's optical flow and every region of interest (ROI), the flow vectors
are sorted into 8 direction bins; the bin holding the most vectors is the main direction, and
the mean of the vectors in it is that frame's main directional mean vector. Averaging those
vectors over the clip gives one (ρ, θ) per ROI, and the 36 ROIs give the 72-dimensional feature
(ρ_1, θ_1, ρ_2, θ_2, …, ρ_36, θ_36). This module computes the ROIs and the feature, and the
per-frame vectors before the average (`atomic_features`, which Sparse MDMO codes instead:
`attrmer.baselines.sparse_mdmo`); the classifiers on top live in `attrmer.baselines.run`.

Choices, where the paper leaves room or works on other inputs:

* ROIs: Liu et al. define 36 ROIs on 66 landmarks; the table `HALF_FACE_ROIS` below defines 18
  polygons on the image-left half of dlib's 68-point scheme, and the other 18 are their mirror
  images (`MIRROR_68`), so the set is symmetric by construction. The polygons are placed on the
  clip's landmarks (one set per clip, in aligned-image coordinates, as the align stage stores
  them); a vertex is a landmark, or the midpoint of two, moved by an offset measured in
  inter-ocular distances (distance between the eye centres; +y is down).
* Angles are taken as seen on screen: θ = atan2(−v, u), counter-clockwise from "to the right",
  90° being upward motion; bin k holds θ in [k·45°, (k+1)·45°).
* Main direction: the bin with the most vectors (the paper's rule), the lowest bin on a tie. An
  ROI that covers no pixel gives the zero vector.
* The clip average is taken over the per-frame main directional mean vectors as vectors (u, v),
  then turned into polar form: ρ the length, θ = atan2(−v̄, ū) in (−π, π].
* Magnitude normalisation, as in the paper: each ρ is divided by the largest ρ of the clip's 36
  ROIs, so ρ lies in [0, 1] (a clip without motion keeps ρ = 0).
* Reference frame: Liu et al. measure each frame's flow against the first (onset) frame, so
  that the clip average follows the expression out to its apex. Averaging frame-to-frame flow
  instead would cancel the onset-to-apex motion against the apex-to-offset motion. The flow
  store says which it holds (`flow.reference`); frame-to-frame ("consecutive") flow is summed
  over time, which gives the displacement from the onset frame up to the small error of not
  warping each field along the path (negligible for the sub-pixel steps of a micro-expression).
* Head motion: Liu et al. remove it with an optical-flow based alignment. The clips here are
  aligned once per clip, so a slow drift of the head remains in the flow; with
  `subtract_global_motion` (on by default) the per-frame median flow over the face (the union of
  the ROIs) is subtracted before binning, which removes a rigid translation and leaves local
  facial motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

DIRECTION_BINS = 8
ROI_COUNT = 36
FEATURE_LENGTH = 2 * ROI_COUNT

# dlib 68-point index -> index of the mirror-image point (left/right swapped).
MIRROR_68 = np.array(
    [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,  # jaw 0-16
     26, 25, 24, 23, 22, 21, 20, 19, 18, 17,  # brows 17-26
     27, 28, 29, 30, 35, 34, 33, 32, 31,  # nose 27-35
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,  # eyes 36-47
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,  # outer lips 48-59
     64, 63, 62, 61, 60, 67, 66, 65],  # inner lips 60-67
    dtype=np.int64,
)


@dataclass(frozen=True)
class Vertex:
    """A polygon corner: the midpoint of landmarks a and b (a == b: the landmark itself),
    moved by (dx, dy) inter-ocular distances (+x to the image right, +y down)."""

    a: int
    b: int
    dx: float = 0.0
    dy: float = 0.0

    def mirrored(self) -> Vertex:
        return Vertex(int(MIRROR_68[self.a]), int(MIRROR_68[self.b]), -self.dx, self.dy)


def _v(a: int, b: int | None = None, *, dx: float = 0.0, dy: float = 0.0) -> Vertex:
    return Vertex(a, a if b is None else b, dx, dy)


# The 18 ROIs of the image-left half of the face (the subject's right side: dlib jaw 0-8,
# brow 17-21, eye 36-41). ROI k + 18 is the mirror image of ROI k.
#
#  #   region               polygon (landmarks; "up/dn f": moved up/down f inter-ocular dist.)
#  1   inner brow           21, 20, 20 up .3, 21 up .3
#  2   middle brow          20, 19, 19 up .3, 20 up .3
#  3   outer brow           19, 18, 17, 17 up .3, 18 up .3, 19 up .3
#  4   glabella (half)      21 up .3, mid(21,22) up .3, 27, 39, 21
#  5   upper lid, inner     21, 20, 38, 39
#  6   upper lid, outer     20, 19, 18, 36, 37, 38
#  7   outer eye corner     17, 18, 36, 36 dn .15, 0
#  8   lower lid            36, 41, 40, 39, then the same moved dn .15 (reversed)
#  9   side of the nose     27, 30, 33, 32, 31, 39 dn .15, 39
#  10  upper lip skin       31, 32, 33, 51, 50, 49, 48
#  11  inner cheek          40 dn .15, 39 dn .15, 31, mid(31,2)
#  12  outer cheek          36 dn .15, 41 dn .15, 40 dn .15, mid(31,2), 2, 1, 0
#  13  nasolabial fold      mid(31,2), 31, 48, mid(48,3)
#  14  lower cheek          2, mid(31,2), mid(48,3), 4, 3
#  15  upper lip (half)     48, 49, 50, 51, 62, 61, 60
#  16  lower lip (half)     48, 60, 67, 66, 57, 58, 59
#  17  mouth corner         mid(48,3), 48, 59, 6, 5, 4
#  18  chin (half)          59, 58, 57, 8, 7, 6
_UP = -0.3
_DN = 0.15
HALF_FACE_ROIS: tuple[tuple[str, tuple[Vertex, ...]], ...] = (
    ("inner brow", (_v(21), _v(20), _v(20, dy=_UP), _v(21, dy=_UP))),
    ("middle brow", (_v(20), _v(19), _v(19, dy=_UP), _v(20, dy=_UP))),
    ("outer brow", (_v(19), _v(18), _v(17), _v(17, dy=_UP), _v(18, dy=_UP), _v(19, dy=_UP))),
    ("glabella", (_v(21, dy=_UP), _v(21, 22, dy=_UP), _v(27), _v(39), _v(21))),
    ("upper lid, inner", (_v(21), _v(20), _v(38), _v(39))),
    ("upper lid, outer", (_v(20), _v(19), _v(18), _v(36), _v(37), _v(38))),
    ("outer eye corner", (_v(17), _v(18), _v(36), _v(36, dy=_DN), _v(0))),
    ("lower lid", (_v(36), _v(41), _v(40), _v(39),
                   _v(39, dy=_DN), _v(40, dy=_DN), _v(41, dy=_DN), _v(36, dy=_DN))),
    ("side of the nose", (_v(27), _v(30), _v(33), _v(32), _v(31), _v(39, dy=_DN), _v(39))),
    ("upper lip skin", (_v(31), _v(32), _v(33), _v(51), _v(50), _v(49), _v(48))),
    ("inner cheek", (_v(40, dy=_DN), _v(39, dy=_DN), _v(31), _v(31, 2))),
    ("outer cheek", (_v(36, dy=_DN), _v(41, dy=_DN), _v(40, dy=_DN), _v(31, 2),
                     _v(2), _v(1), _v(0))),
    ("nasolabial fold", (_v(31, 2), _v(31), _v(48), _v(48, 3))),
    ("lower cheek", (_v(2), _v(31, 2), _v(48, 3), _v(4), _v(3))),
    ("upper lip", (_v(48), _v(49), _v(50), _v(51), _v(62), _v(61), _v(60))),
    ("lower lip", (_v(48), _v(60), _v(67), _v(66), _v(57), _v(58), _v(59))),
    ("mouth corner", (_v(48, 3), _v(48), _v(59), _v(6), _v(5), _v(4))),
    ("chin", (_v(59), _v(58), _v(57), _v(8), _v(7), _v(6))),
)


def roi_table() -> list[tuple[str, tuple[Vertex, ...]]]:
    """All 36 ROIs in feature order: the 18 image-left ones, then their 18 mirror images."""
    left = [(f"{name} (image left)", vertices) for name, vertices in HALF_FACE_ROIS]
    right = [
        (f"{name} (image right)", tuple(v.mirrored() for v in vertices))
        for name, vertices in HALF_FACE_ROIS
    ]
    return left + right


def roi_polygons(landmarks: np.ndarray) -> list[np.ndarray]:
    """The 36 ROI polygons, each (k, 2) float (x, y), placed on 68 landmarks (68, 2)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (68, 2):
        raise ValueError(f"expected 68 (x, y) landmarks, got shape {landmarks.shape}")
    if not np.isfinite(landmarks).all():
        raise ValueError("landmarks contain NaN or infinite values")
    inter_ocular = np.linalg.norm(landmarks[36:42].mean(axis=0) - landmarks[42:48].mean(axis=0))
    if inter_ocular <= 0:
        raise ValueError("landmarks: the two eye centres coincide")
    polygons = []
    for _, vertices in roi_table():
        points = [
            (landmarks[v.a] + landmarks[v.b]) / 2 + inter_ocular * np.array([v.dx, v.dy])
            for v in vertices
        ]
        polygons.append(np.array(points))
    return polygons


def roi_masks(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """(36, height, width) bool: the pixels inside each ROI (clipped to the image)."""
    subpixel_bits = 4  # cv2.fillPoly takes fixed-point corners: keep 1/16 pixel of precision
    masks = np.zeros((ROI_COUNT, height, width), dtype=np.uint8)
    for mask, polygon in zip(masks, roi_polygons(landmarks), strict=True):
        corners = np.rint(polygon * (1 << subpixel_bits)).astype(np.int32)
        cv2.fillPoly(mask, [corners], 1, lineType=cv2.LINE_8, shift=subpixel_bits)
    return masks.astype(bool)


def direction_bins(u: np.ndarray, v: np.ndarray, bins: int = DIRECTION_BINS) -> np.ndarray:
    """Direction bin of each flow vector: floor(θ / (2π/bins)) with θ = atan2(−v, u) in [0, 2π)."""
    theta = np.mod(np.arctan2(-v, u), 2.0 * np.pi)
    return np.minimum((theta / (2.0 * np.pi / bins)).astype(np.int64), bins - 1)


def main_directional_vectors(
    flow: np.ndarray, masks: np.ndarray, *, bins: int = DIRECTION_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Per ROI and frame: the main direction bin and the mean (u, v) of the vectors in it.

    flow: (2, T, H, W) (u, v) in pixels; masks: (R, H, W) bool. Returns the bins (R, T) int and
    the vectors (R, T, 2) float64; an ROI without pixels gets bin 0 and the zero vector.
    """
    if flow.ndim != 4 or flow.shape[0] != 2:
        raise ValueError(f"expected flow of shape (2, T, H, W), got {flow.shape}")
    if masks.shape[1:] != flow.shape[2:]:
        raise ValueError(f"ROI masks {masks.shape[1:]} do not match the flow's {flow.shape[2:]}")
    frames = flow.shape[1]
    rois = masks.shape[0]
    u = flow[0].reshape(frames, -1)
    v = flow[1].reshape(frames, -1)
    # Every (ROI, pixel) membership once, so one bincount per quantity fills the
    # (ROI, frame, bin) table of counts and sums; ROIs may overlap and share pixels.
    roi_of, pixel = np.nonzero(masks.reshape(rois, -1))
    bin_of = direction_bins(u[:, pixel], v[:, pixel], bins)  # (T, memberships)
    cell = (roi_of[None, :] * frames + np.arange(frames)[:, None]) * bins + bin_of
    size = rois * frames * bins
    counts = np.bincount(cell.ravel(), minlength=size).reshape(rois, frames, bins)
    sum_u = np.bincount(cell.ravel(), weights=u[:, pixel].ravel(), minlength=size)
    sum_v = np.bincount(cell.ravel(), weights=v[:, pixel].ravel(), minlength=size)
    sum_u = sum_u.reshape(rois, frames, bins)
    sum_v = sum_v.reshape(rois, frames, bins)
    main = counts.argmax(axis=2)  # first maximum: the lowest bin on a tie
    pick = main[..., None]
    n = np.take_along_axis(counts, pick, axis=2)[..., 0]
    safe = np.maximum(n, 1)
    vectors = np.stack(
        [np.take_along_axis(sum_u, pick, axis=2)[..., 0] / safe,
         np.take_along_axis(sum_v, pick, axis=2)[..., 0] / safe],
        axis=-1,
    )
    vectors[n == 0] = 0.0
    return main, vectors


def main_directional_flow(
    flow: np.ndarray,
    landmarks: np.ndarray,
    *,
    reference: Literal["onset", "consecutive"] = "onset",
    subtract_global_motion: bool = True,
) -> np.ndarray:
    """(36, T, 2) float64: each frame's main directional mean vector (u, v) per ROI, the
    frame's flow measured from the first frame (the per-frame step that MDMO averages).

    `reference` says what the flow fields (2, T, H, W) are measured against: "onset" (field t
    is the motion from the first frame) or "consecutive" (field t is the motion from the
    previous frame; they are summed over time first).
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 4 or flow.shape[0] != 2:
        raise ValueError(f"expected flow of shape (2, T, H, W), got {flow.shape}")
    if reference == "consecutive":
        flow = np.cumsum(flow, axis=1)
    elif reference != "onset":
        raise ValueError(f"reference: {reference!r} is not 'onset' or 'consecutive'")
    masks = roi_masks(landmarks, *flow.shape[2:])
    if subtract_global_motion:
        face = masks.any(axis=0)
        if face.any():
            drift = np.median(flow[:, :, face], axis=2)  # (2, T)
            flow = flow - drift[:, :, None, None]
    _, vectors = main_directional_vectors(flow, masks)
    return vectors


def mdmo_feature(
    flow: np.ndarray,
    landmarks: np.ndarray,
    *,
    reference: Literal["onset", "consecutive"] = "onset",
    normalise_magnitude: bool = True,
    subtract_global_motion: bool = True,
) -> np.ndarray:
    """The 72-d MDMO feature (ρ_1, θ_1, …, ρ_36, θ_36) of one clip's flow (2, T, H, W): the
    clip average of `main_directional_flow` (see there for `reference`)."""
    vectors = main_directional_flow(flow, landmarks, reference=reference,
                                    subtract_global_motion=subtract_global_motion)
    mean = vectors.mean(axis=1)  # (R, 2): average over frames as vectors
    return _polar(mean, normalise_magnitude=normalise_magnitude).ravel()


def atomic_features(
    flow: np.ndarray,
    landmarks: np.ndarray,
    *,
    reference: Literal["onset", "consecutive"] = "onset",
    normalise_magnitude: bool = True,
    subtract_global_motion: bool = True,
) -> np.ndarray:
    """(T, 72) float32: every frame's own MDMO vector (ρ_1, θ_1, …, ρ_36, θ_36), the "atomic
    optical-flow features" that MDMO averages (what Sparse MDMO codes instead).

    Normalised as the clip feature is, but over the whole clip: each ρ is divided by the
    largest ρ of any ROI in any frame, so that the frames keep their relative strength.
    """
    vectors = main_directional_flow(flow, landmarks, reference=reference,
                                    subtract_global_motion=subtract_global_motion)
    per_frame = _polar(vectors.transpose(1, 0, 2), normalise_magnitude=normalise_magnitude)
    return per_frame.reshape(vectors.shape[1], FEATURE_LENGTH)


def _polar(vectors: np.ndarray, *, normalise_magnitude: bool) -> np.ndarray:
    """(..., R, 2) vectors (u, v) -> (..., R, 2) float32 (ρ, θ), θ = atan2(−v, u) in (−π, π];
    with `normalise_magnitude`, ρ over the largest ρ of them all (no motion: ρ stays 0)."""
    rho = np.hypot(vectors[..., 0], vectors[..., 1])
    theta = np.arctan2(-vectors[..., 1], vectors[..., 0])
    if normalise_magnitude and rho.max() > 0:
        rho = rho / rho.max()
    return np.stack([rho, theta], axis=-1).astype(np.float32)
