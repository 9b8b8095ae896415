"""A smooth dense displacement field from control-point displacements, and applying it.

The field is a thin-plate spline through the control points (the points that do not move are
constraints too, so motion stays local), with the image border pinned. It is solved and
evaluated once per clip at apex, on a coarse grid that is then upsampled (the spline is smooth,
so nothing is lost); each frame scales it by the temporal profile and resamples the still with
`cv2.remap`.

Not for deciding what moves (`motion.py`) or when (`render.py`).
"""

from __future__ import annotations

import cv2
import numpy as np

# Spacing of the grid the spline is evaluated on before upsampling, in pixels.
GRID_STEP = 4
# Smoothing of the spline (in units of the image size): a little regularisation keeps the
# spline from overshooting between close points that move apart (the lids of a narrow eye),
# at the cost of matching the control points a little less exactly.
SMOOTHING = 3e-4


def _kernel(distance_sq: np.ndarray) -> np.ndarray:
    """Thin-plate radial basis U(r) = r² log r, written with r² (U(0) = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = 0.5 * distance_sq * np.log(distance_sq)
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def _border_points(height: int, width: int, per_side: int = 4) -> np.ndarray:
    xs = np.linspace(0, width - 1, per_side + 1)
    ys = np.linspace(0, height - 1, per_side + 1)
    top = np.stack([xs, np.zeros_like(xs)], 1)
    bottom = np.stack([xs, np.full_like(xs, height - 1)], 1)
    left = np.stack([np.zeros_like(ys[1:-1]), ys[1:-1]], 1)
    right = np.stack([np.full_like(ys[1:-1], width - 1), ys[1:-1]], 1)
    return np.vstack([top, bottom, left, right])


def merge_close_points(
    points: np.ndarray, displacements: np.ndarray, min_separation: float
) -> tuple[np.ndarray, np.ndarray]:
    """Replace points closer than `min_separation` by their mean, with the mean displacement.

    The inner lips of a closed mouth coincide; moving them apart would need a tear, and a
    spline forced through both swings far beyond either.
    """
    points = np.asarray(points, np.float64)
    displacements = np.asarray(displacements, np.float64)
    if min_separation <= 0:
        return points, displacements
    distance = np.linalg.norm(points[:, None] - points[None], axis=-1)
    labels = np.arange(len(points))
    for i in range(1, len(points)):
        close = np.flatnonzero(distance[i, :i] < min_separation)
        if close.size:
            labels[i] = labels[close[0]]
    groups = np.unique(labels)
    merged_points = np.stack([points[labels == g].mean(0) for g in groups])
    merged_moves = np.stack([displacements[labels == g].mean(0) for g in groups])
    return merged_points, merged_moves


def thin_plate_field(
    points: np.ndarray,
    displacements: np.ndarray,
    shape: tuple[int, int],
    *,
    min_separation: float = 0.0,
) -> np.ndarray:
    """Dense (H, W, 2) float32 displacement field interpolating `displacements` at `points`.

    points, displacements: (N, 2) in pixels (x, y). The image border is held still. Points
    closer than `min_separation` pixels are merged first (`merge_close_points`).
    """
    height, width = shape
    points, displacements = merge_close_points(points, displacements, min_separation)
    border = _border_points(height, width)
    points = np.vstack([points, border])
    values = np.vstack([displacements, np.zeros_like(border)])
    # Solve in units of the image size so the smoothing term means the same at any resolution.
    scale = float(max(height, width))
    source = points / scale
    n = len(source)
    kernel = _kernel(((source[:, None] - source[None]) ** 2).sum(-1))
    affine = np.hstack([np.ones((n, 1)), source])
    system = np.zeros((n + 3, n + 3))
    system[:n, :n] = kernel + SMOOTHING * np.eye(n)
    system[:n, n:] = affine
    system[n:, :n] = affine.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = values
    # OpenCV's LU rather than LAPACK: multithreaded BLAS takes ~1000× longer on this small
    # system when the cores are busy, and the renderer's worker pool keeps them busy.
    ok, coefficients = cv2.solve(system, rhs, flags=cv2.DECOMP_LU)
    if not ok:
        raise np.linalg.LinAlgError("thin-plate spline system is singular")

    grid_x = np.arange(0, width + GRID_STEP, GRID_STEP, dtype=np.float64)
    grid_y = np.arange(0, height + GRID_STEP, GRID_STEP, dtype=np.float64)
    gx, gy = np.meshgrid(grid_x, grid_y)
    query = np.stack([gx.ravel(), gy.ravel()], 1) / scale
    basis = _kernel(((query[:, None] - source[None]) ** 2).sum(-1))
    coarse = basis @ coefficients[:n] + np.hstack([np.ones((len(query), 1)), query]) @ (
        coefficients[n:]
    )
    coarse = coarse.reshape(len(grid_y), len(grid_x), 2).astype(np.float32)
    # The coarse grid covers [0, (len-1)*step]; resize so its nodes land on those pixels.
    full_w, full_h = (len(grid_x) - 1) * GRID_STEP + 1, (len(grid_y) - 1) * GRID_STEP + 1
    dense = cv2.resize(coarse, (full_w, full_h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(dense[:height, :width])


class Warper:
    """Resamples one image under scaled copies of displacement fields (frame by frame)."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        height, width = image.shape[:2]
        self.grid_x, self.grid_y = np.meshgrid(
            np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
        )

    def warp(
        self, fields: list[tuple[float, np.ndarray]], shift: tuple[float, float]
    ) -> np.ndarray:
        """The image with content moved by Σ weight·field plus a global `shift` (x, y).

        Backward mapping: output pixel p samples the image at p − d(p). For displacements of a
        few pixels that vary smoothly this equals the forward motion to well under a pixel.
        """
        map_x = self.grid_x - np.float32(shift[0])
        map_y = self.grid_y - np.float32(shift[1])
        for weight, field in fields:
            if weight != 0.0:
                map_x -= np.float32(weight) * field[..., 0]
                map_y -= np.float32(weight) * field[..., 1]
        return cv2.remap(self.image, map_x, map_y, interpolation=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REFLECT_101)
