"""Farneback flow: known translations are recovered; normalisation uses one fixed bound."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from attrmer.config import FlowConfig
from attrmer.preprocess.flow import farneback_flow, normalise_flow


def textured(size: int = 112, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).uniform(0, 255, (size, size)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    out = cv2.warpAffine(image, matrix, image.shape[::-1], flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REFLECT)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def centre_mean(field: np.ndarray) -> float:
    return float(field[24:-24, 24:-24].mean())


@pytest.mark.parametrize(("dx", "dy"), [(1.0, 0.0), (0.5, -0.75), (-1.5, 1.25)])
def test_a_known_translation_is_recovered(dx: float, dy: float) -> None:
    base = textured()
    grey = np.stack([shifted(base, 0, 0), shifted(base, dx, dy)])
    flow = farneback_flow(grey, FlowConfig())
    assert flow.shape == (2, 1, 112, 112) and flow.dtype == np.float32
    assert centre_mean(flow[0, 0]) == pytest.approx(dx, abs=0.1)
    assert centre_mean(flow[1, 0]) == pytest.approx(dy, abs=0.1)


def test_consecutive_and_onset_references() -> None:
    base = textured(seed=3)
    grey = np.stack([shifted(base, 0.6 * i, 0) for i in range(4)])
    consecutive = farneback_flow(grey, FlowConfig(reference="consecutive"))
    onset = farneback_flow(grey, FlowConfig(reference="onset"))
    assert consecutive.shape == onset.shape == (2, 3, 112, 112)
    # Neighbours differ by 0.6 px; against the first frame the motion grows 0.6, 1.2, 1.8.
    for i in range(3):
        assert centre_mean(consecutive[0, i]) == pytest.approx(0.6, abs=0.1)
        assert centre_mean(onset[0, i]) == pytest.approx(0.6 * (i + 1), abs=0.15)
    np.testing.assert_array_equal(consecutive[:, 0], onset[:, 0])


def test_a_still_clip_has_no_flow() -> None:
    grey = np.repeat(textured()[None].astype(np.uint8), 17, axis=0)
    flow = farneback_flow(grey, FlowConfig())
    assert flow.shape == (2, 16, 112, 112)
    # Farneback leaves a few hundredths of a pixel at the borders even on identical frames.
    assert np.abs(flow[:, :, 16:-16, 16:-16]).max() < 0.01
    assert np.abs(flow).max() < 0.2


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        farneback_flow(np.zeros((3, 8, 8), np.float32), FlowConfig())
    with pytest.raises(ValueError, match="at least 2 frames"):
        farneback_flow(np.zeros((1, 8, 8), np.uint8), FlowConfig())


def test_normalisation_uses_one_fixed_bound_not_per_frame_range() -> None:
    flow = np.zeros((2, 2, 4, 4), np.float32)
    flow[0, 0] = 0.2  # a small motion in frame 1
    flow[0, 1] = 5.0  # a large one in frame 2, beyond the bound
    out = normalise_flow(flow, bound=2.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], 0.1)  # stays small: no per-frame stretching
    np.testing.assert_allclose(out[0, 1], 1.0)  # clipped at the bound
    assert out.min() >= -1.0 and out.max() <= 1.0
    with pytest.raises(ValueError):
        normalise_flow(flow, bound=0.0)
