"""A smooth dense displacement field from control-point displacements, and applying it.

The field is a thin-plate spline through the control points (the points that do not move are
constraints too, so motion stays local), with the image border pinned. It is solved and
evaluated once per clip at apex, on a coarse grid that is then upsampled (the spline is smooth,
so nothing is lost); each frame scales it by the temporal profile and resamples the still with
`cv2.remap`.

Not for deciding what moves (`motion.py`) or when (`render.py`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Spacing of the grid the spline is evaluated on before upsampling, in pixels.
GRID_STEP = 4
# Smoothing of the spline (in units of the image size): a little regularisation keeps the
# spline from overshooting between close points that move apart (the lids of a narrow eye),
# at the cost of matching the control points a little less exactly.
SMOOTHING = 3e-4
# Grid nodes whose spline basis is evaluated at once (memory: QUERY_BLOCK × points × 8 bytes).
QUERY_BLOCK = 8192


def _kernel(distance_sq: np.ndarray) -> np.ndarray:
    """Thin-plate radial basis U(r) = r² log r, written with r² (U(0) = 0)."""
    distance_sq = np.asarray(distance_sq, np.float64)
    # log 1 = 0 stands in for log 0 where r = 0, and U is 0 there.
    return 0.5 * distance_sq * _log(np.where(distance_sq > 0, distance_sq, 1.0))


# Same on every CPU: the spline's field moves the face by fractions of a pixel, and a last-bit
# difference there moves a remap coordinate across OpenCV's 1/32-pixel grid now and then, so a
# pixel of a rendered frame, its JPEG and everything after it differ. NumPy's log has an AVX-512
# kernel of its own (libm's elsewhere), BLAS and LAPACK (OpenCV's solve from 100 unknowns on)
# pick their kernels by the CPU, and each adds in its own order. What follows uses only
# elementwise IEEE 754 operations, exactly rounded at any vector width, in a fixed order.
_LN2 = 0.6931471805599453


def _log(x: np.ndarray) -> np.ndarray:
    """Natural log of positive float64 values, within 3 ulp of libm's: x = m·2^e with m in
    [√½, √2), log m = 2 atanh(s), s = (m − 1)/(m + 1), |s| < 0.172, by its series to s^27."""
    mantissa, exponent = np.frexp(x)  # mantissa in [0.5, 1)
    low = mantissa < np.sqrt(0.5)
    mantissa = np.where(low, 2.0 * mantissa, mantissa)
    exponent = exponent - low
    s = (mantissa - 1.0) / (mantissa + 1.0)
    s2 = s * s
    series = np.full_like(s, 1.0 / 27.0)
    for k in range(25, 0, -2):
        series = series * s2 + 1.0 / k
    return exponent * _LN2 + 2.0 * s * series


def _solve(system: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """`system` x = `rhs` by Gaussian elimination with partial pivoting, row by row."""
    a = np.array(system, np.float64)
    b = np.array(rhs, np.float64)
    n = len(a)
    for k in range(n):
        pivot = k + int(np.argmax(np.abs(a[k:, k])))
        if a[pivot, k] == 0.0:
            raise np.linalg.LinAlgError("thin-plate spline system is singular")
        if pivot != k:
            a[[k, pivot]] = a[[pivot, k]]
            b[[k, pivot]] = b[[pivot, k]]
        factors = a[k + 1:, k] / a[k, k]
        a[k + 1:, k:] -= factors[:, None] * a[k, k:]
        b[k + 1:] -= factors[:, None] * b[k]
    x = np.zeros_like(b)
    for k in range(n - 1, -1, -1):
        for j in range(b.shape[1]):
            x[k, j] = (b[k, j] - math.fsum(a[k, k + 1:] * x[k + 1:, j])) / a[k, k]
    return x


def _weighted_sum(weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`weights @ rows`, the rows added one at a time in their order."""
    out = np.zeros((weights.shape[0], rows.shape[1]))
    for k in range(rows.shape[0]):
        out += weights[:, k:k + 1] * rows[k]
    return out


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
    # Not LAPACK, whose kernels depend on the CPU (see `_log`); nor multithreaded BLAS, which
    # takes ~1000× longer on this small system when the renderer's workers keep the cores busy.
    coefficients = _solve(system, rhs)

    grid_x = np.arange(0, width + GRID_STEP, GRID_STEP, dtype=np.float64)
    grid_y = np.arange(0, height + GRID_STEP, GRID_STEP, dtype=np.float64)
    gx, gy = np.meshgrid(grid_x, grid_y)
    query = np.stack([gx.ravel(), gy.ravel()], 1) / scale
    coarse = np.empty((len(query), 2))
    # A block of grid nodes at a time: a SAMM-sized frame has 140 000 of them.
    for start in range(0, len(query), QUERY_BLOCK):
        block = query[start:start + QUERY_BLOCK]
        basis = _kernel(((block[:, None] - source[None]) ** 2).sum(-1))
        coarse[start:start + QUERY_BLOCK] = _weighted_sum(basis, coefficients[:n]) + (
            _weighted_sum(np.hstack([np.ones((len(block), 1)), block]), coefficients[n:]))
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
