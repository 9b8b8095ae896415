"""RGB and flow streams describe the same instants of the clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from attrmer.config import FlowConfig
from attrmer.preprocess.clip import flow_from_aligned, rgb_from_aligned, stream_instants
from attrmer.preprocess.flow import farneback_flow


def _moving_texture(n: int, step_px: float, size: int = 112) -> np.ndarray:
    """(n, S, S, 3) frames of a smooth texture moving right by `step_px` per frame."""
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size, size + 40)).astype(np.float32),
                               (0, 0), 2.5)
    texture = cv2.normalize(texture, None, 30, 220, cv2.NORM_MINMAX)
    frames = []
    for i in range(n):
        move = np.float32([[1, 0, step_px * i - 20], [0, 1, 0]])
        frame = cv2.warpAffine(texture, move, (size, size), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT)
        frames.append(np.repeat(np.rint(frame).astype(np.uint8)[..., None], 3, axis=2))
    return np.stack(frames)


def test_both_streams_sit_on_one_grid_that_ends_at_the_offset() -> None:
    instants = stream_instants(33, 16)
    assert instants.shape == (16,)
    np.testing.assert_allclose(instants, np.arange(2, 33, 2))


@pytest.mark.parametrize("reference", ["onset", "consecutive"])
def test_rgb_frame_k_is_the_instant_flow_field_k_ends_at(reference: str) -> None:
    # 33 source frames, 16 per stream: instant k + 1 of the grid is source frame 2(k + 1),
    # which TIM reproduces exactly, so both streams can be checked against the source itself.
    clip = _moving_texture(33, 0.1)
    cfg = FlowConfig(reference=reference)
    rgb = rgb_from_aligned(clip, 16)
    flow = flow_from_aligned(clip, 16, cfg)
    instants = stream_instants(33, 16).astype(int)
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in clip]
    for k, instant in enumerate(instants):
        np.testing.assert_array_equal(rgb[:, k], clip[instant].transpose(2, 0, 1))
        start = 0 if reference == "onset" or k == 0 else instants[k - 1]
        expected = farneback_flow(np.stack([grey[start], grey[instant]]), cfg)[:, 0]
        np.testing.assert_array_equal(flow[:, k], expected)
    # And the motion is there: 0.1 px per source frame.
    assert flow[0, -1, 30:82, 30:82].mean() == pytest.approx(
        0.1 * (32 if reference == "onset" else 2), rel=0.25)
