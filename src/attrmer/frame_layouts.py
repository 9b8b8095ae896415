"""Frame sizes and face scales of real datasets, for rendering the built-in corpus at them.

A table of its own (it imports nothing of attrmer) so that both the configuration, which validates
`synth.resolution`, and the renderer read it, and the prepare stage can depend on it alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrameLayout:
    """Frames of a real dataset's size, for rendering the built-in corpus at that size."""

    width: int
    height: int
    # Source pixels per pixel of the 112 px aligned face: how much alignment shrinks the face.
    pixels_per_aligned_px: float
    grey: bool


# `synth.resolution`: "builtin" renders each still at `synth.frame_height` (about 1.7 source
# pixels per aligned pixel); the others at the frame size and face scale of a real dataset's
# frames (CASME II raw: 640×480 colour, face ≈ 280 px; SAMM: 2040×1088 grey, face ≈ 500 px).
SYNTH_RESOLUTIONS: dict[str, FrameLayout] = {
    "casme2": FrameLayout(640, 480, 2.5, grey=False),
    "samm": FrameLayout(2040, 1088, 4.5, grey=True),
}
