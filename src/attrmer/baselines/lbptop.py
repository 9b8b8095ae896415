"""LBP-TOP (Zhao & Pietikäinen, 2007): uniform local binary patterns on three orthogonal planes.

A grey clip (T, H, W) is described by the local binary patterns of every interior voxel in
its XY plane (appearance), XT plane (horizontal motion) and YT plane (vertical motion). The
face is cut into a grid of blocks over H × W (each block takes all frames); per block and plane
the codes are folded into uniform patterns and histogrammed, each histogram is L1-normalised, and
the histograms are concatenated. This module computes the codes and the feature vector; the
classifier on top lives in `attrmer.baselines.run`.

Conventions (each a choice the original leaves to the implementation):

* Grey: ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B, kept as float (no rounding to 8 bits).
* Neighbour p of P lies at angle a = 2πp/P in the plane, offset by (+r_h cos a) along the plane's
  horizontal axis and (−r_v sin a) along its vertical axis, i.e. counter-clockwise starting
  to the right, "up" being towards smaller indices:

  ======  =================  ================
  plane   horizontal axis    vertical axis
  ======  =================  ================
  XY      x (radius_xy)      y (radius_xy)
  XT      x (radius_xy)      t (radius_t)
  YT      y (radius_xy)      t (radius_t)
  ======  =================  ================

  Bit p of the code is 1 when the neighbour is >= the centre (weight 2**p).
* Off-grid neighbours: ``interpolation="round"`` (the default) rounds the offset to the nearest
  voxel, as the reference implementation does (floor(x + 0.5)); for P = 8 and radius 1 that is
  the 3 × 3 square. ``"bilinear"`` interpolates in the plane (Ojala et al., 2002); there a
  neighbour counts as >= the centre within 1e-4 grey levels, so that a flat patch gives the
  same bits whatever the rounding of the interpolation weights.
* Borders: only voxels at least radius_t from the first/last frame and radius_xy from every
  image edge are centres, the same set for all three planes, so no neighbour is extrapolated.
* Blocks: the block edges are round(i·H/rows) and round(j·W/cols) over the full image; a centre
  belongs to the block its (y, x) lies in.
* Uniform mapping: patterns with at most two circular 0/1 transitions get one bin each in
  increasing code order (P(P−1)+2 of them), every other pattern shares the last bin, giving
  P(P−1)+3 bins (59 for P = 8).
* Layout of the feature: block (row-major) × plane (XY, XT, YT) × bin, length
  rows·cols·3·(P(P−1)+3).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np

from attrmer.config import LbpTopConfig

PLANES = ("XY", "XT", "YT")
# (horizontal axis, vertical axis) of each plane, as axes of a (T, H, W) clip.
_PLANE_AXES = {"XY": (2, 1), "XT": (2, 0), "YT": (1, 0)}
BT601_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Tolerance of the >= test under bilinear interpolation, in grey levels.
_BILINEAR_TOLERANCE = 1e-4

Interpolation = Literal["round", "bilinear"]


def grey_clip(rgb: np.ndarray) -> np.ndarray:
    """(3, T, H, W) RGB (any numeric dtype) -> (T, H, W) float32 BT.601 luma."""
    if rgb.ndim != 4 or rgb.shape[0] != 3:
        raise ValueError(f"expected an RGB clip of shape (3, T, H, W), got {rgb.shape}")
    return np.tensordot(BT601_WEIGHTS, rgb.astype(np.float32, copy=False), axes=1)


def uniform_bin_count(neighbors: int) -> int:
    """P(P−1)+3: the uniform patterns plus one bin for all non-uniform ones."""
    return neighbors * (neighbors - 1) + 3


@lru_cache(maxsize=8)
def uniform_mapping(neighbors: int) -> np.ndarray:
    """Look-up table code -> bin (length 2**P) of the uniform-pattern histogram."""
    if not 1 <= neighbors <= 24:
        raise ValueError(f"neighbors: {neighbors} is not in 1..24")
    codes = np.arange(2**neighbors, dtype=np.int64)
    bits = (codes[:, None] >> np.arange(neighbors)) & 1
    transitions = np.count_nonzero(bits != np.roll(bits, 1, axis=1), axis=1)
    uniform = transitions <= 2
    table = np.full(codes.shape, uniform_bin_count(neighbors) - 1, dtype=np.int64)
    table[uniform] = np.arange(np.count_nonzero(uniform))
    table.setflags(write=False)
    return table


def neighbour_offsets(
    plane: str, *, neighbors: int, radius_xy: float, radius_t: float
) -> np.ndarray:
    """(P, 3) offsets (dt, dy, dx) of the P neighbours of a centre in `plane`, unrounded."""
    horizontal, vertical = _PLANE_AXES[plane]
    radii = (radius_t, radius_xy, radius_xy)
    angles = 2.0 * np.pi * np.arange(neighbors) / neighbors
    offsets = np.zeros((neighbors, 3))
    offsets[:, horizontal] = radii[horizontal] * np.cos(angles)
    offsets[:, vertical] = -radii[vertical] * np.sin(angles)
    # cos/sin of multiples of π/2 are off by ~1e-16; snap them so exact grid points stay exact.
    return np.round(offsets, 6)


def lbp_top_codes(
    grey: np.ndarray,
    *,
    neighbors: int = 8,
    radius_xy: int = 1,
    radius_t: int = 1,
    interpolation: Interpolation = "round",
) -> dict[str, np.ndarray]:
    """Raw LBP codes of every interior voxel, per plane: {"XY"|"XT"|"YT": int array}.

    Each array has shape (T − 2·radius_t, H − 2·radius_xy, W − 2·radius_xy): entry [t, y, x]
    is the code of voxel (t + radius_t, y + radius_xy, x + radius_xy) of `grey`.
    """
    if grey.ndim != 3:
        raise ValueError(f"expected a grey clip of shape (T, H, W), got {grey.shape}")
    if interpolation not in ("round", "bilinear"):
        raise ValueError(f"interpolation: {interpolation!r} is not 'round' or 'bilinear'")
    margins = (radius_t, radius_xy, radius_xy)
    if any(size <= 2 * m for size, m in zip(grey.shape, margins, strict=True)):
        raise ValueError(
            f"a clip of shape {grey.shape} has no interior voxel for radius_t={radius_t}, "
            f"radius_xy={radius_xy}"
        )
    grey = np.asarray(grey, dtype=np.float32)
    centre = _shifted(grey, margins, (0, 0, 0))
    code_dtype = np.uint32 if neighbors > 16 else np.uint16
    codes = {}
    for plane in PLANES:
        offsets = neighbour_offsets(
            plane, neighbors=neighbors, radius_xy=radius_xy, radius_t=radius_t
        )
        code = np.zeros(centre.shape, dtype=code_dtype)
        for p, offset in enumerate(offsets):
            if interpolation == "round":
                value = _shifted(grey, margins, tuple(np.floor(offset + 0.5).astype(int)))
                bit = value >= centre
            else:
                value = _bilinear(grey, margins, offset)
                bit = value >= centre - _BILINEAR_TOLERANCE
            code |= bit.astype(code_dtype) << code_dtype(p)
        codes[plane] = code
    return codes


def lbp_top_feature(
    grey: np.ndarray,
    *,
    grid: tuple[int, int] | list[int] = (5, 5),
    neighbors: int = 8,
    radius_xy: int = 1,
    radius_t: int = 1,
    interpolation: Interpolation = "round",
) -> np.ndarray:
    """LBP-TOP feature of a grey clip (T, H, W): float32 of length rows·cols·3·(P(P−1)+3)."""
    rows, cols = grid
    height, width = grey.shape[1:]
    if not (1 <= rows <= height - 2 * radius_xy and 1 <= cols <= width - 2 * radius_xy):
        raise ValueError(
            f"grid {rows}x{cols} does not fit the {height - 2 * radius_xy}x"
            f"{width - 2 * radius_xy} interior of a {height}x{width} clip"
        )
    codes = lbp_top_codes(
        grey, neighbors=neighbors, radius_xy=radius_xy, radius_t=radius_t,
        interpolation=interpolation,
    )
    mapping = uniform_mapping(neighbors)
    bins = uniform_bin_count(neighbors)
    block = _block_index(height, width, rows, cols, radius_xy)  # (H', W') block of each centre
    histograms = np.empty((rows * cols, len(PLANES), bins), dtype=np.float64)
    for p, plane in enumerate(PLANES):
        index = block[None] * bins + mapping[codes[plane]]
        histograms[:, p] = np.bincount(index.ravel(), minlength=rows * cols * bins).reshape(
            rows * cols, bins
        )
    totals = histograms.sum(axis=2, keepdims=True)
    histograms /= np.maximum(totals, 1.0)
    return histograms.astype(np.float32).ravel()


def feature_length(grid: tuple[int, int] | list[int], neighbors: int) -> int:
    rows, cols = grid
    return rows * cols * len(PLANES) * uniform_bin_count(neighbors)


def lbp_top_from_config(rgb: np.ndarray, config: LbpTopConfig) -> np.ndarray:
    """The feature of an RGB clip (3, T, H, W) under `baselines.lbptop` params."""
    return lbp_top_feature(
        grey_clip(rgb), grid=config.grid, neighbors=config.neighbors,
        radius_xy=config.radius_xy, radius_t=config.radius_t,
    )


def _shifted(volume: np.ndarray, margins: tuple[int, ...], offset: tuple[int, ...]) -> np.ndarray:
    """The interior of `volume` moved by `offset` voxels (a view, no copy)."""
    index = tuple(
        slice(m + d, size - m + d) for size, m, d in zip(volume.shape, margins, offset, strict=True)
    )
    return volume[index]


def _bilinear(volume: np.ndarray, margins: tuple[int, ...], offset: np.ndarray) -> np.ndarray:
    """The interior of `volume` sampled at a fractional `offset` (at most two axes fractional)."""
    base = np.floor(offset).astype(int)
    frac = offset - base
    result = np.zeros(_shifted(volume, margins, (0, 0, 0)).shape, dtype=np.float32)
    fractional_axes = [a for a in range(3) if frac[a] > 0]
    # Each corner of the cell: for every fractional axis take the lower or the upper voxel.
    for corner in range(2 ** len(fractional_axes)):
        shift = base.copy()
        weight = 1.0
        for k, axis in enumerate(fractional_axes):
            upper = (corner >> k) & 1
            shift[axis] += upper
            weight *= frac[axis] if upper else 1.0 - frac[axis]
        result += np.float32(weight) * _shifted(volume, margins, tuple(shift))
    return result


def _block_index(height: int, width: int, rows: int, cols: int, margin: int) -> np.ndarray:
    """(H − 2m, W − 2m) block number (row-major) of every interior pixel."""
    row_edges = np.rint(np.linspace(0, height, rows + 1)).astype(int)
    col_edges = np.rint(np.linspace(0, width, cols + 1)).astype(int)
    ys = np.arange(margin, height - margin)
    xs = np.arange(margin, width - margin)
    row_of = np.searchsorted(row_edges, ys, side="right") - 1
    col_of = np.searchsorted(col_edges, xs, side="right") - 1
    return row_of[:, None] * cols + col_of[None, :]
