"""Dense optical flow (OpenCV Farneback) for the flow stream, and its fixed normalisation.

`farneback_flow` takes T+1 grey frames and returns T flow fields of raw (u, v) pixels:
- reference "consecutive": field i is the motion from frame i to frame i+1;
- reference "onset": field i is the motion from the first frame to frame i+1, so the T fields
  cover frames 2..T+1 against frame 1 (the first field is then the same in both modes).
The same T+1 TIM frames feed both modes, so the stream always has T fields.

`normalise_flow` maps raw flow into [−1, 1] with one fixed bound, never per-frame min–max,
which would throw the magnitude of the motion away. Not for colour visualisation.
"""

from __future__ import annotations

import cv2
import numpy as np

from attrmer.config import FlowConfig

# The settings a flow field is computed with (the rest of FlowConfig shapes the network's
# input at training time): a flow store records these, and models that share them can be fed
# the same preprocessed clip.
FLOW_FIELD_KEYS = ("reference", "pyr_scale", "levels", "winsize", "iterations", "poly_n",
                   "poly_sigma")


def farneback_flow(grey: np.ndarray, cfg: FlowConfig) -> np.ndarray:
    """(T+1, H, W) uint8 grey frames -> (2, T, H, W) float32 flow (u: x, v: y) in pixels."""
    grey = np.asarray(grey)
    if grey.ndim != 3 or grey.dtype != np.uint8:
        raise ValueError(f"flow needs (frames, H, W) uint8 grey frames, got {grey.dtype} "
                         f"{grey.shape}")
    if grey.shape[0] < 2:
        raise ValueError("flow needs at least 2 frames")
    if cfg.reference not in ("consecutive", "onset"):
        raise ValueError(f"flow.reference: unknown reference {cfg.reference!r}")
    fields = grey.shape[0] - 1
    out = np.empty((2, fields, *grey.shape[1:]), np.float32)
    for i in range(fields):
        previous = grey[i] if cfg.reference == "consecutive" else grey[0]
        flow = cv2.calcOpticalFlowFarneback(
            previous, grey[i + 1], None,
            cfg.pyr_scale, cfg.levels, cfg.winsize, cfg.iterations, cfg.poly_n,
            cfg.poly_sigma, 0,
        )
        out[0, i] = flow[..., 0]
        out[1, i] = flow[..., 1]
    return out


def normalise_flow(flow: np.ndarray, bound: float) -> np.ndarray:
    """Clip raw flow to ±bound pixels and divide by bound: values in [−1, 1], float32."""
    if bound <= 0:
        raise ValueError(f"flow bound must be positive, got {bound}")
    flow = np.asarray(flow, dtype=np.float32)
    return np.clip(flow, -bound, bound) / np.float32(bound)
