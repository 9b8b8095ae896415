"""What the deep baselines share, so that they differ in what their papers change and not in
the plumbing: picking evenly spaced frames, resizing and standardising maps, flow as
displacement from the onset (of the whole clip or of its apex frame), optical strain, the
shape checks of a stored clip, and the small frame CNN that stands in for the papers'
image-sized ones. Not a method of its own.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from torch import Tensor, nn

# The smallest standard deviation a clip is divided by (grey levels in [0, 1]): a flat clip
# stays near zero instead of having its noise blown up.
_MIN_STD = 1.0 / 255.0
# Divides the optical strain so that a micro-expression's strain is of unit order (a 1 px
# displacement over a 5–10 px facial feature is a strain of 0.1–0.2).
STRAIN_SCALE = 0.1


def frame_indices(available: int, wanted: int) -> np.ndarray:
    """`wanted` evenly spaced indices into `available` frames, first and last included
    (repeated frames when fewer are available than wanted)."""
    if available < 1 or wanted < 1:
        raise ValueError(f"cannot pick {wanted} of {available} frames")
    return np.rint(np.linspace(0, available - 1, wanted)).astype(np.int64)


def resize_maps(maps: np.ndarray, size: int) -> np.ndarray:
    """(..., H, W) float maps -> (..., size, size) float32, each map area-averaged."""
    maps = np.asarray(maps, dtype=np.float32)
    lead, (height, width) = maps.shape[:-2], maps.shape[-2:]
    if height == size and width == size:
        return maps.copy()
    interpolation = cv2.INTER_AREA if size < min(height, width) else cv2.INTER_LINEAR
    flat = maps.reshape(-1, height, width)
    out = np.stack([cv2.resize(m, (size, size), interpolation=interpolation) for m in flat])
    return out.reshape(*lead, size, size)


def standardised(values: np.ndarray) -> np.ndarray:
    """values − their mean, over their standard deviation (at least `_MIN_STD`), float32."""
    values = np.asarray(values, dtype=np.float64)
    return ((values - values.mean()) / max(float(values.std()), _MIN_STD)).astype(np.float32)


def onset_referenced(flow: np.ndarray, reference: Literal["onset", "consecutive"]) -> np.ndarray:
    """(2, T, H, W) flow as displacement from the onset, whatever it is measured against."""
    if reference == "onset":
        return np.asarray(flow, dtype=np.float32)
    if reference == "consecutive":
        return np.cumsum(np.asarray(flow, dtype=np.float32), axis=1)
    raise ValueError(f"reference: {reference!r} is not 'onset' or 'consecutive'")


def apex_displacement(flow: np.ndarray, apex: int,
                      reference: Literal["onset", "consecutive"]) -> np.ndarray:
    """(2, T, H, W) flow -> (2, H, W) float32: the displacement from the onset at stored frame
    `apex` (the onset→apex flow of the apex-frame methods)."""
    if not 0 <= apex < flow.shape[1]:
        raise ValueError(f"apex frame {apex} is not one of the clip's {flow.shape[1]}")
    return onset_referenced(flow, reference)[:, apex]


def optical_strain(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(..., H, W) strain magnitude sqrt(ε_xx² + ε_yy² + 2 ε_xy²) of the flow (u, v), float32.

    ε_xx = ∂u/∂x, ε_yy = ∂v/∂y, ε_xy = ½ (∂u/∂y + ∂v/∂x) (Shreve et al.): x is the last axis
    (columns), y the one before (rows); central differences inside, one-sided differences on
    the border (`np.gradient`), unit spacing (pixels).
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    du_dy, du_dx = np.gradient(u, axis=(-2, -1))
    dv_dy, dv_dx = np.gradient(v, axis=(-2, -1))
    shear = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx**2 + dv_dy**2 + 2.0 * shear**2).astype(np.float32)


def check_clip(rgb: np.ndarray, flow: np.ndarray | None = None) -> None:
    """Raise ValueError unless rgb is (3, T, H, W) and flow, if given, (2, T, H, W) alike."""
    if rgb.ndim != 4 or rgb.shape[0] != 3:
        raise ValueError(f"expected RGB of shape (3, T, H, W), got {rgb.shape}")
    if flow is not None and (flow.ndim != 4 or flow.shape[0] != 2
                             or flow.shape[1:] != rgb.shape[1:]):
        raise ValueError(f"expected flow of shape (2, {', '.join(map(str, rgb.shape[1:]))}), "
                         f"got {flow.shape}")


class FrameCnn(nn.Module):
    """(N, C, S, S) frames -> (N, 4·width) features: three conv blocks, global average pool."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for out in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = out
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = channels

    def forward(self, frames: Tensor) -> Tensor:
        return self.pool(self.blocks(frames)).flatten(1)
