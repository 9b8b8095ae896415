"""FDM: the cuboid grid, the principal direction of known vectors, the map of a known flow."""

from __future__ import annotations

import numpy as np
import pytest

from attrmer.baselines.fdm import (
    cuboid_labels,
    direction_objective,
    fdm_feature,
    fdm_feature_length,
    fdm_from_config,
    frame_to_frame,
    principal_direction,
    principal_directions,
)
from attrmer.config import FdmConfig

SIZE = 112


def test_cuboids_are_numbered_segment_then_row_then_column() -> None:
    labels = cuboid_labels(4, 8, 8, grid=(2, 2), segments=2)
    assert labels.shape == (4, 8, 8)
    assert labels[0, 0, 0] == 0 and labels[0, 0, 7] == 1 and labels[0, 7, 0] == 2
    assert labels[1, 3, 3] == 0 and labels[2, 0, 0] == 4 and labels[3, 7, 7] == 7
    # Each cuboid is 2 fields × 4 × 4 pixels.
    np.testing.assert_array_equal(np.bincount(labels.ravel()), np.full(8, 32))


def test_vectors_that_all_point_one_way_give_that_direction_and_length() -> None:
    vectors = np.tile([3.0, 4.0], (50, 1))
    direction, magnitude = principal_direction(vectors)
    np.testing.assert_allclose(direction, [0.6, 0.8])
    assert magnitude == pytest.approx(5.0)


def test_the_refined_set_drops_the_vectors_moving_the_other_way() -> None:
    # 60 vectors of length 1 to the right and 40 to the left: the mean (0.2, 0) points right,
    # the 40 leftward vectors have negative components along it and are dropped, and the 60
    # that remain all move by 1 px: direction (1, 0), magnitude 1 (the plain mean says 0.2).
    vectors = np.array([[1.0, 0.0]] * 60 + [[-1.0, 0.0]] * 40)
    direction, magnitude = principal_direction(vectors)
    np.testing.assert_allclose(direction, [1.0, 0.0])
    assert magnitude == pytest.approx(1.0)
    assert direction_objective(vectors, direction) == pytest.approx(60.0)


def test_the_search_refines_the_start_and_reaches_the_best_direction() -> None:
    # Half the vectors move up-right by 2 px, the rest are noise: the mean direction is pulled
    # towards the noise, the refined set recovers the motion, and no direction on a fine
    # grid of angles does better than the result.
    rng = np.random.default_rng(0)
    motion = np.array([2.0, -2.0]) / np.sqrt(2.0) + rng.normal(0, 0.2, (200, 2))
    noise = rng.normal(0, 0.5, (200, 2))
    vectors = np.concatenate([motion, noise])
    start = vectors.mean(axis=0) / np.linalg.norm(vectors.mean(axis=0))
    direction, magnitude = principal_direction(vectors, iterations=50)
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    assert direction_objective(vectors, direction) >= direction_objective(vectors, start)
    angles = np.linspace(0, 2 * np.pi, 7200, endpoint=False)
    grid = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    best = max(direction_objective(vectors, g) for g in grid)
    assert direction_objective(vectors, direction) >= best - 1e-6
    # Up-right in image coordinates: u > 0, v < 0, at 45° within the noise.
    assert np.rad2deg(np.arctan2(-direction[1], direction[0])) == pytest.approx(45.0, abs=5.0)
    assert 1.0 < magnitude < 2.5


def test_a_cuboid_without_motion_gives_zero_and_a_zero_mean_uses_the_longest_vector() -> None:
    u = np.array([0.0, 0.0, 1.0, -1.0, 0.0, 0.0])
    v = np.array([0.0, 0.0, 0.0, 0.0, 2.0, -1.0])
    labels = np.array([0, 0, 1, 1, 1, 1])  # cuboid 1's vectors sum to (0, 1)
    direction, magnitude, _ = principal_directions(u, v, labels, 3, iterations=10)
    np.testing.assert_array_equal(direction[[0, 2]], 0.0)
    np.testing.assert_array_equal(magnitude[[0, 2]], 0.0)
    np.testing.assert_allclose(direction[1], [0.0, 1.0])
    assert magnitude[1] == pytest.approx(2.0)
    # Symmetric vectors: the mean is zero, so the search starts from the longest one.
    direction, magnitude = principal_direction(np.array([[1.0, 0.0], [-3.0, 0.0], [2.0, 0.0],
                                                         [0.0, 0.0]]))
    np.testing.assert_allclose(direction, [-1.0, 0.0])
    assert magnitude == pytest.approx(3.0)


def test_one_moving_cuboid_is_found_at_its_place_in_the_map() -> None:
    # A 4 × 8 grid with 4 segments of the 16 fields; the cuboid of segment 1, row 2,
    # column 5 (fields 4-7, rows 56-83, columns 70-83) moves by (-0.5, +0.25) px per frame.
    flow = np.zeros((2, 16, SIZE, SIZE), dtype=np.float16)
    flow[0, 4:8, 56:84, 70:84] = -0.5
    flow[1, 4:8, 56:84, 70:84] = 0.25
    feature = fdm_feature(flow, grid=(4, 8), segments=4)
    assert feature.shape == (4 * 4 * 8 * 2,) and feature.dtype == np.float32
    vectors = feature.reshape(4, 4, 8, 2)
    np.testing.assert_allclose(vectors[1, 2, 5], [-0.5, 0.25], atol=1e-6)
    vectors[1, 2, 5] = 0.0
    np.testing.assert_array_equal(vectors, 0.0)


def test_onset_referenced_flow_is_differenced_into_frame_to_frame_motion() -> None:
    # Onset fields of a face moving 0.3 px right per frame: 0.3, 0.6, ..., 1.2.
    onset = np.zeros((2, 4, 16, 16))
    onset[0] = 0.3 * np.arange(1, 5)[:, None, None]
    np.testing.assert_allclose(frame_to_frame(onset, "onset")[0], 0.3)
    feature = fdm_feature(onset, grid=(2, 2), segments=2, reference="onset",
                          subtract_global_motion=False)
    np.testing.assert_allclose(feature.reshape(-1, 2), [[0.3, 0.0]] * 8, atol=1e-6)
    # The same motion everywhere is a translation of the head: aligned away.
    aligned = fdm_feature(onset, grid=(2, 2), segments=2, reference="onset")
    np.testing.assert_allclose(aligned, 0.0, atol=1e-9)


def test_feature_from_config_has_the_configured_length() -> None:
    config = FdmConfig()
    flow = np.random.default_rng(0).normal(0, 0.3, (2, 16, SIZE, SIZE)).astype(np.float16)
    feature = fdm_from_config(flow, config, reference="onset")
    assert feature.shape == (fdm_feature_length(config),)
    assert np.isfinite(feature).all()


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="flow of shape"):
        fdm_feature(np.zeros((3, 4, 16, 16)))
    with pytest.raises(ValueError, match="does not fit"):
        fdm_feature(np.zeros((2, 2, 16, 16)), grid=(2, 2), segments=3)
    with pytest.raises(ValueError, match="reference"):
        fdm_feature(np.zeros((2, 4, 16, 16)), reference="apex")
    with pytest.raises(ValueError, match="iterations"):
        principal_direction(np.ones((3, 2)), iterations=0)
