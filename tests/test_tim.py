"""TIM: the DCT closed form against the graph-embedding oracle and against known signals."""

from __future__ import annotations

import numpy as np
import pytest

from attrmer.preprocess.tim import (
    tim_interpolate,
    tim_interpolate_eigen,
    tim_matrix,
    tim_positions,
)


def random_clip(n: int, seed: int = 0, shape: tuple[int, ...] = (6, 5, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


@pytest.mark.parametrize("n", [2, 5, 7, 16, 33])
def test_source_frames_come_back_exactly_at_their_positions(n: int) -> None:
    clip = random_clip(n)
    # With T = k(n − 1) + 1 every k-th output frame sits on a source frame.
    for k in (1, 2, 3):
        out = tim_interpolate(clip, k * (n - 1) + 1)
        np.testing.assert_array_equal(out[::k], clip)
    float_clip = clip.astype(np.float64) / 7.0
    np.testing.assert_allclose(tim_interpolate(float_clip, 2 * n - 1)[::2], float_clip,
                               atol=1e-12)


@pytest.mark.parametrize("n", [5, 6, 11, 16, 17, 40, 77, 140])
@pytest.mark.parametrize("frames", [16, 17, 150])
def test_closed_form_agrees_with_the_eigen_solve_oracle(n: int, frames: int) -> None:
    clip = random_clip(n, seed=n * 1000 + frames)
    fast = tim_interpolate(clip, frames)
    oracle = tim_interpolate_eigen(clip, frames)
    assert fast.dtype == oracle.dtype == np.uint8
    assert np.abs(fast.astype(int) - oracle.astype(int)).max() <= 1
    float_clip = clip.astype(np.float64)
    np.testing.assert_allclose(tim_interpolate(float_clip, frames),
                               tim_interpolate_eigen(float_clip, frames), atol=1e-6)


@pytest.mark.parametrize(("n", "frames"), [(16, 16), (30, 16), (60, 16), (140, 17), (10, 16)])
def test_a_linear_ramp_in_time_stays_a_ramp(n: int, frames: int) -> None:
    ramp = np.linspace(10.0, 240.0, n)
    clip = np.repeat(ramp[:, None, None], 4, axis=1).repeat(4, axis=2)
    out = tim_interpolate(clip, frames)
    expected = np.interp(tim_positions(n, frames), np.arange(n), ramp)
    assert np.abs(out[:, 2, 2] - expected).max() < 1.0
    assert np.all(np.diff(out[:, 2, 2]) > 0)
    # Every pixel of a frame gets the same value: time is interpolated, not space.
    assert np.ptp(out, axis=(1, 2)).max() < 1e-9


@pytest.mark.parametrize(("n", "frames"), [(60, 16), (9, 16), (2, 16), (16, 2)])
def test_fewer_and_more_source_frames_than_output_frames(n: int, frames: int) -> None:
    clip = random_clip(n, shape=(8, 7, 3))
    out = tim_interpolate(clip, frames)
    assert out.shape == (frames, 8, 7, 3)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], clip[0])  # frame 1 is the onset
    np.testing.assert_array_equal(out[-1], clip[-1])  # frame T is the offset


def test_overshoot_is_clipped_before_casting_to_uint8() -> None:
    step = np.zeros((6, 2, 2), np.uint8)
    step[3:] = 255
    raw = tim_interpolate(step.astype(np.float64), 31)
    assert raw.min() < -1 and raw.max() > 256  # the interpolant rings around the step
    out = tim_interpolate(step, 31)
    np.testing.assert_array_equal(out, np.rint(np.clip(raw, 0, 255)).astype(np.uint8))


def test_float_input_keeps_its_type_and_any_trailing_shape() -> None:
    clip = np.random.default_rng(1).normal(size=(12, 3)).astype(np.float32)
    out = tim_interpolate(clip, 5)
    assert out.dtype == np.float32 and out.shape == (5, 3)
    series = np.random.default_rng(2).normal(size=9)
    assert tim_interpolate(series, 4).shape == (4,)


def test_matrix_rows_sum_to_one() -> None:
    # A constant clip stays constant: every output frame is an affine mix of source frames.
    np.testing.assert_allclose(tim_matrix(23, 16).sum(axis=1), 1.0, atol=1e-12)


def test_too_few_frames_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 2 source frames"):
        tim_interpolate(random_clip(1), 16)
    with pytest.raises(ValueError, match="at least 2 output frames"):
        tim_interpolate(random_clip(5), 1)
