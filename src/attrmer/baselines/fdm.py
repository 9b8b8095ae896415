"""FDM: the Facial Dynamics Map of Xu, Zhang and Wang.

F. Xu, J. Zhang, J. Z. Wang, "Microexpression Identification and Categorization Using a Facial
Dynamics Map", IEEE Transactions on Affective Computing 8(2):254–267, 2017.

A clip's optical flow is aligned at the pixel level (the face's own translation removed), the
clip is cut into spatio-temporal cuboids (a rows × cols grid over the face, `segments` slices
of time), and each cuboid is summarised by its principal optical-flow direction, found by an
iterative optimal search, and the strength of the motion along it. The cuboids' principal
vectors, concatenated, are the map; an SVM classifies it (`attrmer.baselines.run`). This
module computes the map; not for the classifier.

The principal direction of a cuboid with flow vectors w_1 … w_N is the unit vector ξ that
maximises

    f(ξ) = Σ_i max(0, ⟨w_i, ξ⟩),

the total motion along ξ of the vectors that move with it (vectors moving against ξ neither
count for nor against it, so one region's motion is not cancelled by noise or by a part of
the cuboid that moves the other way). The search alternates the two steps that each raise f:
keep the vectors with ⟨w_i, ξ⟩ > 0 (the refined set S), then set ξ to the direction of their
sum, Σ_S w_i / ‖Σ_S w_i‖, the maximiser of Σ_S ⟨w_i, ξ⟩ over unit ξ. It starts from the
direction of the mean vector, never lowers f, and stops when S no longer changes (S takes
finitely many values) or after `iterations` updates. The cuboid's magnitude is the mean
motion along ξ of the refined set, f(ξ) / |S|; the map holds ξ times that magnitude.

Choices where the paper leaves room or works on other inputs:

* Flow: the map is built from frame-to-frame motion. Onset-referenced fields (the flow store's
  `flow.reference: onset`) are turned into frame-to-frame ones by differencing consecutive
  fields (the first field is its own difference from the onset frame).
* Pixel-level alignment: Xu et al. align the frames with optical flow so that the head's
  residual translation is removed. The clips here are aligned once per clip (`align`), so
  each field's median vector, a robust estimate of that translation, is subtracted from it.
* Cuboids: the edges are round(i·H/rows), round(j·W/cols) and round(k·T/segments); the layout
  of the feature is segment × row (top to bottom) × column (left to right) × (u, v), the
  vector in the flow store's image coordinates (u to the right, v downwards, pixels per
  frame). A cuboid without motion (every vector zero) gives the zero vector.
* The start when a cuboid's mean vector is zero but its vectors are not: the direction of its
  longest vector.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from attrmer.config import FdmConfig

# A sum of vectors shorter than this (pixels) has no direction.
_NO_DIRECTION = 1e-12


def cuboid_labels(frames: int, height: int, width: int, *, grid: tuple[int, int] | list[int],
                  segments: int) -> np.ndarray:
    """(T, H, W) int64: the cuboid (segment-major, then row, then column) of every vector."""
    rows, cols = grid
    if not (1 <= rows <= height and 1 <= cols <= width and 1 <= segments <= frames):
        raise ValueError(f"a {segments} x {rows} x {cols} cuboid grid does not fit a clip of "
                         f"{frames} fields of {height}x{width}")
    segment_of = _cell_of(frames, segments)
    row_of = _cell_of(height, rows)
    col_of = _cell_of(width, cols)
    return ((segment_of[:, None, None] * rows + row_of[None, :, None]) * cols
            + col_of[None, None, :])


def principal_directions(
    u: np.ndarray, v: np.ndarray, labels: np.ndarray, cuboids: int, *, iterations: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """The principal direction of every cuboid at once.

    u, v, labels: flat arrays of the same length (the vectors and the cuboid of each).
    Returns the unit directions (cuboids, 2), the magnitudes f(ξ)/|S| (cuboids,) and the
    number of updates made; a cuboid without motion gets (0, 0) and magnitude 0.
    """
    if iterations < 1:
        raise ValueError(f"iterations: {iterations} must be at least 1")
    u = np.asarray(u, dtype=np.float64).ravel()
    v = np.asarray(v, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=np.int64).ravel()
    direction = _starting_directions(u, v, labels, cuboids)
    keep = _agreeing(u, v, labels, direction)
    updates = 0
    for _ in range(iterations):
        sum_u = np.bincount(labels, weights=u * keep, minlength=cuboids)
        sum_v = np.bincount(labels, weights=v * keep, minlength=cuboids)
        length = np.hypot(sum_u, sum_v)
        moving = length > _NO_DIRECTION
        direction[moving] = np.stack([sum_u, sum_v], axis=1)[moving] / length[moving, None]
        updates += 1
        refined = _agreeing(u, v, labels, direction)
        if np.array_equal(refined, keep):
            break
        keep = refined
    projection = (u * direction[labels, 0] + v * direction[labels, 1]) * keep
    total = np.bincount(labels, weights=projection, minlength=cuboids)
    count = np.bincount(labels, weights=keep.astype(np.float64), minlength=cuboids)
    magnitude = np.where(count > 0, total / np.maximum(count, 1.0), 0.0)
    return direction, magnitude, updates


def principal_direction(vectors: np.ndarray, *, iterations: int = 10) -> tuple[np.ndarray, float]:
    """(unit direction (2,), magnitude) of one cuboid's flow vectors (N, 2) as (u, v)."""
    vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, 2)
    direction, magnitude, _ = principal_directions(
        vectors[:, 0], vectors[:, 1], np.zeros(len(vectors), dtype=np.int64), 1,
        iterations=iterations,
    )
    return direction[0], float(magnitude[0])


def direction_objective(vectors: np.ndarray, direction: np.ndarray) -> float:
    """f(ξ) = Σ_i max(0, ⟨w_i, ξ⟩) of vectors (N, 2) for a direction ξ (2,)."""
    return float(np.maximum(np.asarray(vectors, dtype=np.float64) @ direction, 0.0).sum())


def frame_to_frame(flow: np.ndarray, reference: Literal["onset", "consecutive"]) -> np.ndarray:
    """(2, T, H, W) flow as motion between consecutive frames, whatever it is measured against."""
    if reference == "consecutive":
        return flow
    if reference == "onset":
        return np.diff(flow, axis=1, prepend=np.zeros_like(flow[:, :1]))
    raise ValueError(f"reference: {reference!r} is not 'onset' or 'consecutive'")


def fdm_feature(
    flow: np.ndarray,
    *,
    grid: tuple[int, int] | list[int] = (8, 8),
    segments: int = 4,
    iterations: int = 10,
    reference: Literal["onset", "consecutive"] = "consecutive",
    subtract_global_motion: bool = True,
) -> np.ndarray:
    """The facial dynamics map of one clip's flow (2, T, H, W): float32 of length
    segments·rows·cols·2, each cuboid's principal vector (u, v) in pixels per frame."""
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 4 or flow.shape[0] != 2:
        raise ValueError(f"expected flow of shape (2, T, H, W), got {flow.shape}")
    flow = frame_to_frame(flow, reference)
    if subtract_global_motion:
        drift = np.median(flow.reshape(2, flow.shape[1], -1), axis=2)  # (2, T)
        flow = flow - drift[:, :, None, None]
    labels = cuboid_labels(*flow.shape[1:], grid=grid, segments=segments)
    cuboids = segments * grid[0] * grid[1]
    direction, magnitude, _ = principal_directions(
        flow[0], flow[1], labels, cuboids, iterations=iterations)
    return (direction * magnitude[:, None]).astype(np.float32).ravel()


def fdm_feature_length(config: FdmConfig) -> int:
    rows, cols = config.grid
    return config.segments * rows * cols * 2


def fdm_from_config(
    flow: np.ndarray, config: FdmConfig, *, reference: Literal["onset", "consecutive"]
) -> np.ndarray:
    """The map of a clip's flow (2, T, H, W) under `baselines.fdm` params."""
    return fdm_feature(flow, grid=config.grid, segments=config.segments,
                       iterations=config.iterations, reference=reference)


def _cell_of(size: int, cells: int) -> np.ndarray:
    """The cell (0..cells−1) of each of `size` positions, edges at round(i·size/cells)."""
    edges = np.rint(np.linspace(0, size, cells + 1)).astype(int)
    return np.searchsorted(edges, np.arange(size), side="right") - 1


def _agreeing(u: np.ndarray, v: np.ndarray, labels: np.ndarray,
              direction: np.ndarray) -> np.ndarray:
    """The refined set: vectors with a positive component along their cuboid's direction."""
    return u * direction[labels, 0] + v * direction[labels, 1] > 0


def _starting_directions(u: np.ndarray, v: np.ndarray, labels: np.ndarray,
                         cuboids: int) -> np.ndarray:
    """The direction of each cuboid's mean vector; of its longest vector where the mean is 0."""
    sum_u = np.bincount(labels, weights=u, minlength=cuboids)
    sum_v = np.bincount(labels, weights=v, minlength=cuboids)
    length = np.hypot(sum_u, sum_v)
    direction = np.zeros((cuboids, 2))
    moving = length > _NO_DIRECTION
    direction[moving] = np.stack([sum_u, sum_v], axis=1)[moving] / length[moving, None]
    if not moving.all():
        # Longest vector per cuboid: sort by (cuboid, length) and take each group's last.
        norms = np.hypot(u, v)
        order = np.lexsort((norms, labels))
        last = order[np.r_[np.flatnonzero(np.diff(labels[order])), len(order) - 1]]
        for index in last:
            cuboid = labels[index]
            if not moving[cuboid] and norms[index] > _NO_DIRECTION:
                direction[cuboid] = (u[index] / norms[index], v[index] / norms[index])
    return direction
