"""One clip, from decoded frames to the network's inputs: the single path that the stages and
`attrmer predict` share, so that training and prediction see identical inputs.

`align_clip` (one face geometry per clip), `rgb_from_aligned` (TIM RGB at the stream
instants), `flow_from_aligned` (Farneback flow ending at the same instants) and
`preprocess_clip`, all three at once. Light on imports (no HDF5, no tables), so that a
one-clip `attrmer predict` starts fast. The stages that run this over a dataset live in
`attrmer.preprocess.pipeline`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from attrmer.config import FlowConfig
from attrmer.preprocess.align import Alignment, FaceAligner
from attrmer.preprocess.flow import farneback_flow
from attrmer.preprocess.frames import ClipError
from attrmer.preprocess.tim import tim_interpolate, tim_positions


@dataclass
class ProcessedClip:
    rgb: np.ndarray  # (3, T, S, S) uint8 RGB
    flow: np.ndarray  # (2, T, S, S) float32 raw (u, v) pixels
    landmarks: np.ndarray  # (68, 2) float32, aligned coordinates
    matrix: np.ndarray  # (2, 3) source -> aligned
    detected_frame: int
    n_source_frames: int
    status: str = "ok"


def align_clip(frames: Sequence[np.ndarray], aligner: FaceAligner) -> Alignment:
    """Align a clip (decoded frames, or `LazyFrames` decoded as it goes); a clip too short for
    TIM fails here, before any detection."""
    if len(frames) < 2:
        # Read first: an unreadable lone frame is reported as such, whichever kind `frames` is.
        list(frames)
        raise ClipError("one-frame clip", "TIM needs at least 2 frames")
    return aligner.align(frames)


def stream_instants(n_source: int, frames_out: int) -> np.ndarray:
    """Source-frame positions (0 = onset) of the T instants that BOTH streams describe.

    TIM evaluates the clip at T + 1 evenly spaced instants from onset to offset. Flow field k
    is the motion arriving at instant k + 1 (from the onset, or from instant k), so the RGB
    stream shows the same instants 1..T; instant 0, the onset, is only the flow's reference.
    """
    return tim_positions(n_source, frames_out + 1)[1:]


def rgb_from_aligned(aligned: np.ndarray, frames_out: int) -> np.ndarray:
    """(n, S, S, 3) aligned frames -> (3, T, S, S) uint8 TIM frames at `stream_instants`."""
    frames = tim_interpolate(aligned, frames_out + 1)[1:]
    return np.ascontiguousarray(frames.transpose(3, 0, 1, 2))


def grey_frames(aligned: np.ndarray) -> np.ndarray:
    """(n, S, S, 3) RGB uint8 -> (n, S, S) grey uint8 (one OpenCV call for the whole clip)."""
    n, height, width, _ = aligned.shape
    flat = np.ascontiguousarray(aligned).reshape(n * height, width, 3)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY).reshape(n, height, width)


def flow_from_aligned(aligned: np.ndarray, frames_out: int, flow_cfg: FlowConfig) -> np.ndarray:
    """(n, S, S, 3) aligned frames -> (2, T, S, S) float32 flow from T+1 TIM frames: field k
    ends at instant k + 1 of the grid, the instant RGB frame k shows (`stream_instants`).

    The clip is made grey before TIM: both are linear, so this equals TIM-then-grey up to
    rounding, at a third of the cost.
    """
    grey = tim_interpolate(grey_frames(aligned), frames_out + 1)
    return farneback_flow(grey, flow_cfg)


def preprocess_clip(
    frames: list[np.ndarray],
    *,
    aligner: FaceAligner,
    frames_out: int,
    flow_cfg: FlowConfig,
) -> ProcessedClip:
    """Decoded RGB frames (onset..offset) -> the RGB and flow inputs of the network."""
    alignment = align_clip(frames, aligner)
    return ProcessedClip(
        rgb=rgb_from_aligned(alignment.frames, frames_out),
        flow=flow_from_aligned(alignment.frames, frames_out, flow_cfg),
        landmarks=alignment.landmarks,
        matrix=alignment.matrix,
        detected_frame=alignment.detected_frame,
        n_source_frames=len(frames),
        status=alignment.status,
    )
