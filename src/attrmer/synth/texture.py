"""Fine skin texture for faces rendered larger than their still.

A bundled still holds a face of ~150 px; blown up to a SAMM-sized face of ~500 px it is smooth,
while a real face at that size shows pores, stubble and fine lines at the camera's own
resolution: the very detail that aliases when the frame is shrunk to 112 px. `skin_texture`
restores it as a fixed pattern that moves with the face (it is drawn once and warped with the
still): three octaves of smoothed noise whose grain is a physical size on the face, measured in
pixels of the 112 px aligned face (0.25, 0.5 and 1 px), so a camera that sees the face larger
resolves more of it, as a real one does.
"""

from __future__ import annotations

import cv2
import numpy as np

# Grain of each octave in aligned pixels, and its contrast in grey levels (standard deviation).
GRAINS_ALIGNED_PX = (0.25, 0.5, 1.0)
OCTAVE_SIGMA = 5.0


def skin_texture(shape: tuple[int, int], rng: np.random.Generator,
                 pixels_per_aligned_px: float, sigma: float = OCTAVE_SIGMA) -> np.ndarray:
    """(H, W) float32 zero-mean texture for an image with `pixels_per_aligned_px` pixels per
    aligned pixel."""
    height, width = shape
    texture = np.zeros((height, width), np.float32)
    for grain in GRAINS_ALIGNED_PX:
        noise = rng.standard_normal((height, width), dtype=np.float32)
        octave = cv2.GaussianBlur(noise, (0, 0), grain * pixels_per_aligned_px,
                                  borderType=cv2.BORDER_REFLECT)
        spread = float(octave.std())
        if spread > 0:
            texture += octave * np.float32(sigma / spread)
    return texture
