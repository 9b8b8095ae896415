"""LBP-TOP: codes against a hand computation, the uniform mapping, the feature's layout."""

from __future__ import annotations

import numpy as np
import pytest

from attrmer.baselines.lbptop import (
    feature_length,
    grey_clip,
    lbp_top_codes,
    lbp_top_feature,
    lbp_top_from_config,
    uniform_bin_count,
    uniform_mapping,
)
from attrmer.config import LbpTopConfig

# A 3×3×3 volume, indexed [t][y][x]; its centre voxel (1, 1, 1) is 50.
VOLUME = np.array(
    [
        [[10, 20, 30],
         [40, 50, 60],
         [70, 80, 90]],
        [[5, 60, 7],
         [90, 50, 20],
         [55, 45, 51]],
        [[99, 1, 50],
         [49, 30, 80],
         [3, 40, 50]],
    ],
    dtype=np.float32,
)


def _codes(**kwargs) -> dict[str, int]:
    codes = lbp_top_codes(VOLUME, **kwargs)
    assert all(c.shape == (1, 1, 1) for c in codes.values())
    return {plane: int(c[0, 0, 0]) for plane, c in codes.items()}


def test_codes_of_the_centre_voxel_match_a_hand_computation() -> None:
    # Neighbour p sits at angle 45°·p, counter-clockwise from "right", "up" towards lower
    # indices; bit p is set when the neighbour is >= 50. With radius 1 and rounding the eight
    # neighbours are the 3×3 square: p0 right, p1 up-right, p2 up, p3 up-left, p4 left,
    # p5 down-left, p6 down, p7 down-right.
    #
    # XY (frame t=1; right = x+1, up = y-1):
    #   p0 20:0  p1 7:0  p2 60:1  p3 5:0  p4 90:1  p5 55:1  p6 45:0  p7 51:1
    #   -> 4 + 16 + 32 + 128 = 180
    # XT (row y=1; right = x+1, up = t-1):
    #   p0 20:0  p1 60:1  p2 50:1 (equal counts)  p3 40:0  p4 90:1  p5 49:0  p6 30:0  p7 80:1
    #   -> 2 + 4 + 16 + 128 = 150
    # YT (column x=1; right = y+1, up = t-1):
    #   p0 45:0  p1 80:1  p2 50:1  p3 20:0  p4 60:1  p5 1:0  p6 30:0  p7 40:0
    #   -> 2 + 4 + 16 = 22
    assert _codes() == {"XY": 180, "XT": 150, "YT": 22}


def test_bilinear_codes_match_a_hand_computation() -> None:
    # XY plane of frame t=1 with the diagonal neighbours interpolated at (±0.7071, ±0.7071);
    # w = 0.7071, 1 - w = 0.2929.
    #   p1 up-right:   w·(0.2929·60 + w·7)  + 0.2929·(0.2929·50 + w·20) = 24.36 -> 0
    #   p3 up-left:    w·(w·5 + 0.2929·60)  + 0.2929·(w·90 + 0.2929·50) = 37.86 -> 0
    #   p5 down-left:  0.2929·(w·90 + 0.2929·50) + w·(w·55 + 0.2929·45) = 59.75 -> 1
    #   p7 down-right: 0.2929·(0.2929·50 + w·20) + w·(0.2929·45 + w·51) = 43.25 -> 0
    # The axial neighbours are on the grid as before: p2 (60) and p4 (90) set, p0, p6 not.
    #   -> 4 + 16 + 32 = 52
    assert _codes(interpolation="bilinear")["XY"] == 52


def test_bilinear_equals_rounding_when_every_neighbour_is_on_the_grid() -> None:
    rng = np.random.default_rng(0)
    grey = rng.uniform(0, 255, size=(6, 9, 9)).astype(np.float32)
    rounded = lbp_top_codes(grey, neighbors=4, radius_xy=2, radius_t=1)
    bilinear = lbp_top_codes(grey, neighbors=4, radius_xy=2, radius_t=1,
                             interpolation="bilinear")
    for plane in rounded:
        np.testing.assert_array_equal(rounded[plane], bilinear[plane])


def test_a_flat_patch_sets_every_bit_under_both_interpolations() -> None:
    flat = np.full((3, 5, 5), 77.0, dtype=np.float32)
    for interpolation in ("round", "bilinear"):
        codes = lbp_top_codes(flat, interpolation=interpolation)
        for plane, code in codes.items():
            assert (code == 255).all(), (interpolation, plane)


def test_border_voxels_are_not_centres() -> None:
    grey = np.zeros((10, 20, 30), dtype=np.float32)
    codes = lbp_top_codes(grey, radius_xy=2, radius_t=3)
    for code in codes.values():
        assert code.shape == (10 - 6, 20 - 4, 30 - 4)


@pytest.mark.parametrize(("neighbors", "bins"), [(4, 15), (8, 59), (16, 243)])
def test_uniform_mapping_has_p_times_p_minus_1_plus_3_bins(neighbors: int, bins: int) -> None:
    table = uniform_mapping(neighbors)
    assert len(table) == 2**neighbors
    assert uniform_bin_count(neighbors) == bins
    assert set(np.unique(table)) == set(range(bins))


def test_uniform_mapping_of_8_neighbours() -> None:
    table = uniform_mapping(8)
    # Uniform codes take bins in increasing code order: 0, 1, 2, 3, 4, then 6 (5 = 0b101 has
    # four transitions), ...; all non-uniform codes share the last bin.
    assert [int(table[c]) for c in (0, 1, 2, 3, 4, 6)] == [0, 1, 2, 3, 4, 5]
    assert table[0b00000101] == 58
    assert table[0b01010101] == 58
    assert table[0b11111111] == 57
    assert np.count_nonzero(table < 58) == 58


@pytest.mark.parametrize(
    ("grid", "neighbors", "radius_xy"),
    [((1, 1), 8, 1), ((2, 3), 8, 1), ((5, 5), 8, 1), ((8, 8), 8, 2), ((4, 4), 4, 1)],
)
def test_feature_length_matches_the_formula(
    grid: tuple[int, int], neighbors: int, radius_xy: int
) -> None:
    rng = np.random.default_rng(1)
    grey = rng.uniform(0, 255, size=(8, 40, 36)).astype(np.float32)
    feature = lbp_top_feature(grey, grid=grid, neighbors=neighbors, radius_xy=radius_xy)
    expected = grid[0] * grid[1] * 3 * (neighbors * (neighbors - 1) + 3)
    assert feature.shape == (expected,)
    assert feature_length(grid, neighbors) == expected
    # Every block and plane histogram is L1-normalised.
    histograms = feature.reshape(grid[0] * grid[1], 3, uniform_bin_count(neighbors))
    np.testing.assert_allclose(histograms.sum(axis=2), 1.0, rtol=1e-5)


def test_feature_is_invariant_to_a_monotonic_grey_change() -> None:
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 200, size=(6, 30, 30)).astype(np.float32)
    np.testing.assert_array_equal(
        lbp_top_feature(grey, grid=(3, 3)), lbp_top_feature(2 * grey + 11, grid=(3, 3))
    )


def test_blocks_see_their_own_region() -> None:
    # Left half flat, right half noisy: the left blocks hold only the all-ones pattern.
    rng = np.random.default_rng(3)
    grey = np.full((5, 20, 20), 100.0, dtype=np.float32)
    grey[:, :, 10:] = rng.uniform(0, 255, size=(5, 20, 10))
    histograms = lbp_top_feature(grey, grid=(1, 2)).reshape(2, 3, 59)
    all_ones_bin = uniform_mapping(8)[255]
    for plane in range(3):
        assert histograms[0, plane, all_ones_bin] > 0.8
        assert histograms[1, plane, all_ones_bin] < 0.2


def test_grey_uses_bt601_weights() -> None:
    rgb = np.zeros((3, 1, 1, 3), dtype=np.uint8)
    rgb[0, 0, 0, 0] = 255
    rgb[1, 0, 0, 1] = 255
    rgb[2, 0, 0, 2] = 255
    np.testing.assert_allclose(grey_clip(rgb)[0, 0], [76.245, 149.685, 29.07], rtol=1e-5)


def test_feature_from_config_of_an_rgb_clip() -> None:
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, size=(3, 16, 112, 112), dtype=np.uint8)
    config = LbpTopConfig()
    feature = lbp_top_from_config(rgb, config)
    assert feature.dtype == np.float32
    assert feature.shape == (5 * 5 * 3 * 59,)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="RGB clip"):
        grey_clip(np.zeros((16, 112, 112, 3)))
    with pytest.raises(ValueError, match="no interior voxel"):
        lbp_top_codes(np.zeros((2, 10, 10)), radius_t=1)
    with pytest.raises(ValueError, match="grid"):
        lbp_top_feature(np.zeros((4, 8, 8)), grid=(7, 7))
