"""MDMO: the 36 ROIs, the main direction of a known flow field, the 72-d feature."""

from __future__ import annotations

import numpy as np
import pytest

from attrmer.baselines.mdmo import (
    FEATURE_LENGTH,
    HALF_FACE_ROIS,
    ROI_COUNT,
    atomic_features,
    direction_bins,
    main_directional_vectors,
    mdmo_feature,
    roi_masks,
    roi_polygons,
    roi_table,
)

# dlib's 68 landmarks of a frontal face placed on a 112×112 aligned image (measured on a real
# face, then made mirror-symmetric about x = 56).
FACE_LANDMARKS_112 = np.array([
    (23.4, 48.8), (24.0, 58.0), (24.7, 67.2), (25.1, 76.8), (27.3, 85.4), (32.1, 93.1),
    (38.7, 98.8), (46.7, 103.7), (56.0, 105.3), (65.3, 103.7), (73.3, 98.8), (79.9, 93.1),
    (84.7, 85.4), (86.9, 76.8), (87.3, 67.2), (88.0, 58.0), (88.6, 48.8), (28.6, 41.1),
    (32.4, 36.7), (38.2, 35.4), (44.2, 36.4), (50.2, 37.9), (61.8, 37.9), (67.8, 36.4),
    (73.8, 35.4), (79.6, 36.7), (83.4, 41.1), (56.0, 45.3), (56.0, 51.7), (56.0, 58.0),
    (56.0, 65.1), (48.7, 70.8), (52.5, 71.5), (56.0, 72.1), (59.5, 71.5), (63.3, 70.8),
    (35.3, 46.2), (38.7, 44.0), (43.6, 44.4), (47.4, 48.1), (43.2, 48.8), (38.5, 48.4),
    (64.6, 48.1), (68.4, 44.4), (73.3, 44.0), (76.7, 46.2), (73.5, 48.4), (68.8, 48.8),
    (42.9, 83.9), (47.7, 82.6), (52.5, 81.7), (56.0, 82.9), (59.5, 81.7), (64.3, 82.6),
    (69.1, 83.9), (64.2, 87.4), (59.5, 89.0), (56.0, 89.3), (52.5, 89.0), (47.8, 87.4),
    (44.9, 83.9), (52.5, 84.2), (56.0, 84.8), (59.5, 84.2), (67.1, 83.9), (59.5, 84.9),
    (56.0, 85.5), (52.5, 84.9),
], dtype=np.float32)

SIZE = 112


def uniform_flow(magnitude: float, degrees: float, frames: int = 4) -> np.ndarray:
    """(2, T, H, W) flow of one vector everywhere; degrees counter-clockwise as seen on screen
    (90° is upward motion, i.e. negative v in image coordinates)."""
    angle = np.deg2rad(degrees)
    flow = np.empty((2, frames, SIZE, SIZE), dtype=np.float16)
    flow[0] = magnitude * np.cos(angle)
    flow[1] = -magnitude * np.sin(angle)
    return flow


@pytest.fixture(scope="module")
def masks() -> np.ndarray:
    return roi_masks(FACE_LANDMARKS_112, SIZE, SIZE)


def test_there_are_36_rois_in_mirror_pairs() -> None:
    table = roi_table()
    assert len(HALF_FACE_ROIS) == 18
    assert len(table) == ROI_COUNT == 36
    for k in range(18):
        assert table[k][0].replace("image left", "image right") == table[k + 18][0]


def test_every_roi_covers_pixels_and_mirror_pairs_match(masks: np.ndarray) -> None:
    pixels = masks.reshape(ROI_COUNT, -1).sum(axis=1)
    assert (pixels >= 20).all(), dict(zip([n for n, _ in roi_table()], pixels, strict=True))
    # The landmarks are symmetric about x = 56, so each ROI and its mirror have the same area
    # and mirror-image centroids, up to rasterisation.
    polygons = roi_polygons(FACE_LANDMARKS_112)
    for k in range(18):
        assert abs(int(pixels[k]) - int(pixels[k + 18])) <= 0.1 * pixels[k] + 3
        left, right = polygons[k].mean(axis=0), polygons[k + 18].mean(axis=0)
        np.testing.assert_allclose([112 - left[0], left[1]], right, atol=0.2)
        assert left[0] < 56.0 < right[0]


def test_rois_lie_on_the_face(masks: np.ndarray) -> None:
    face = masks.any(axis=0)
    ys, xs = np.nonzero(face)
    # Between the forehead above the brows and the chin, inside the jaw line.
    assert ys.min() > 20 and ys.max() <= 106
    assert xs.min() >= 23 and xs.max() <= 89
    # The rows of the eyes' centres are covered on both sides.
    assert face[47, 30] and face[47, 82]


@pytest.mark.parametrize(
    ("degrees", "expected_bin"),
    [(30.0, 0), (60.0, 1), (100.0, 2), (170.0, 3), (200.0, 4), (250.0, 5), (300.0, 6),
     (340.0, 7)],
)
def test_uniform_flow_lands_in_its_bin_with_its_magnitude_in_every_roi(
    masks: np.ndarray, degrees: float, expected_bin: int
) -> None:
    flow = uniform_flow(1.5, degrees)
    bins, vectors = main_directional_vectors(flow, masks)
    assert bins.shape == (ROI_COUNT, 4)
    assert (bins == expected_bin).all()
    # float16 storage of the flow costs ~1e-3 px.
    np.testing.assert_allclose(np.hypot(vectors[..., 0], vectors[..., 1]), 1.5, atol=2e-3)
    np.testing.assert_allclose(
        np.rad2deg(np.arctan2(-vectors[..., 1], vectors[..., 0])) % 360, degrees, atol=0.1
    )


def test_feature_of_a_uniform_flow_at_30_degrees() -> None:
    flow = uniform_flow(1.5, 30.0)
    raw = mdmo_feature(flow, FACE_LANDMARKS_112, normalise_magnitude=False,
                       subtract_global_motion=False)
    assert raw.shape == (FEATURE_LENGTH,) == (72,)
    assert raw.dtype == np.float32
    rho, theta = raw[0::2], raw[1::2]
    np.testing.assert_allclose(rho, 1.5, atol=2e-3)
    np.testing.assert_allclose(np.rad2deg(theta), 30.0, atol=0.1)
    # The paper's normalisation divides by the clip's largest ρ: every ROI moves alike -> 1.
    normalised = mdmo_feature(flow, FACE_LANDMARKS_112, subtract_global_motion=False)
    np.testing.assert_allclose(normalised[0::2], 1.0, atol=1e-6)
    np.testing.assert_allclose(normalised[1::2], raw[1::2])


def test_upward_motion_is_90_degrees() -> None:
    # v < 0 moves towards the top of the image.
    assert direction_bins(np.array([0.0]), np.array([-1.0]))[0] == 2
    assert direction_bins(np.array([0.0]), np.array([1.0]))[0] == 6
    assert direction_bins(np.array([-1.0]), np.array([0.0]))[0] == 4


def test_main_direction_is_the_bin_with_most_vectors_and_its_mean() -> None:
    # One ROI of 10 pixels: 6 vectors pointing right with lengths 1..6 (bin 0), 4 long vectors
    # pointing up (bin 2). The main bin is 0 (6 vectors > 4) even though bin 2 has the larger
    # magnitude sum, and the mean vector is that of the 6: (3.5, 0).
    mask = np.zeros((1, 1, 10), dtype=bool)
    mask[...] = True
    flow = np.zeros((2, 1, 1, 10))
    flow[0, 0, 0, :6] = np.arange(1, 7)
    flow[1, 0, 0, 6:] = -10.0
    bins, vectors = main_directional_vectors(flow, mask)
    assert bins[0, 0] == 0
    np.testing.assert_allclose(vectors[0, 0], [3.5, 0.0])


def test_clip_average_is_taken_over_vectors() -> None:
    # Frame 1 moves right by 2, frame 2 up by 2: the average vector is (1, -1) in (u, v),
    # i.e. length √2 at 45°, not the average of the angles' magnitudes along one direction.
    flow = np.zeros((2, 2, SIZE, SIZE))
    flow[0, 0] = 2.0
    flow[1, 1] = -2.0
    feature = mdmo_feature(flow, FACE_LANDMARKS_112, normalise_magnitude=False,
                           subtract_global_motion=False)
    np.testing.assert_allclose(feature[0::2], np.sqrt(2.0), atol=1e-6)
    np.testing.assert_allclose(np.rad2deg(feature[1::2]), 45.0, atol=1e-4)


def test_atomic_features_are_each_frames_vectors_before_the_average() -> None:
    # Frame 1 moves right by 2, frame 2 up by 1: one (ρ, θ) per ROI and frame, ρ divided by the
    # clip's largest (2): frame 1 is (1, 0°), frame 2 (0.5, 90°). MDMO averages the same
    # vectors: (1, −0.5) in (u, v).
    flow = np.zeros((2, 2, SIZE, SIZE))
    flow[0, 0] = 2.0
    flow[1, 1] = -1.0
    frames = atomic_features(flow, FACE_LANDMARKS_112, subtract_global_motion=False)
    assert frames.shape == (2, FEATURE_LENGTH) and frames.dtype == np.float32
    np.testing.assert_allclose(frames[:, 0::2], [[1.0] * ROI_COUNT, [0.5] * ROI_COUNT],
                               atol=1e-6)
    np.testing.assert_allclose(np.rad2deg(frames[:, 1::2]), [[0.0] * ROI_COUNT, [90.0] * ROI_COUNT],
                               atol=1e-4)
    raw = atomic_features(flow, FACE_LANDMARKS_112, normalise_magnitude=False,
                          subtract_global_motion=False).astype(np.float64)
    mean_u = (raw[:, 0::2] * np.cos(raw[:, 1::2])).mean(axis=0)
    mean_v = -(raw[:, 0::2] * np.sin(raw[:, 1::2])).mean(axis=0)
    feature = mdmo_feature(flow, FACE_LANDMARKS_112, normalise_magnitude=False,
                           subtract_global_motion=False)
    np.testing.assert_allclose(feature[0::2], np.hypot(mean_u, mean_v), atol=1e-6)
    np.testing.assert_allclose(feature[1::2], np.arctan2(-mean_v, mean_u), atol=1e-6)


def test_frame_to_frame_flow_is_summed_into_displacement_from_the_onset() -> None:
    # The face moves right by 1 px per frame for two frames, then back: frame-to-frame fields
    # +1, +1, -1, -1 are displacements 1, 2, 1, 0 from the onset, whose mean is 1 px to the
    # right; averaged as they are, the fields would cancel to nothing.
    flow = np.zeros((2, 4, SIZE, SIZE))
    flow[0] = np.array([1.0, 1.0, -1.0, -1.0])[:, None, None]
    summed = mdmo_feature(flow, FACE_LANDMARKS_112, reference="consecutive",
                          normalise_magnitude=False, subtract_global_motion=False)
    np.testing.assert_allclose(summed[0::2], 1.0, atol=1e-9)
    np.testing.assert_allclose(summed[1::2], 0.0, atol=1e-9)
    as_is = mdmo_feature(flow, FACE_LANDMARKS_112, reference="onset",
                         normalise_magnitude=False, subtract_global_motion=False)
    np.testing.assert_allclose(as_is[0::2], 0.0, atol=1e-9)


def test_global_motion_is_removed_and_local_motion_kept(masks: np.ndarray) -> None:
    # The head drifts by 0.6 px to the right while the image-left inner brow (ROI 0) moves up
    # by 1 px: after subtracting the face's median flow only the brow's motion remains.
    flow = np.zeros((2, 3, SIZE, SIZE))
    flow[0] += 0.6
    flow[1, :, masks[0]] -= 1.0
    feature = mdmo_feature(flow, FACE_LANDMARKS_112, normalise_magnitude=False)
    rho, theta = feature[0::2], feature[1::2]
    np.testing.assert_allclose(rho[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(np.rad2deg(theta[0]), 90.0, atol=1e-4)
    still = np.ones(ROI_COUNT, dtype=bool)
    still[0] = False
    still &= ~(masks & masks[0]).reshape(ROI_COUNT, -1).any(axis=1)  # ROIs sharing brow pixels
    np.testing.assert_allclose(rho[still], 0.0, atol=1e-6)


def test_a_clip_without_motion_gives_zeros() -> None:
    feature = mdmo_feature(np.zeros((2, 3, SIZE, SIZE)), FACE_LANDMARKS_112)
    np.testing.assert_array_equal(feature, np.zeros(FEATURE_LENGTH))


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="68"):
        roi_polygons(np.zeros((66, 2)))
    with pytest.raises(ValueError, match="eye centres"):
        roi_polygons(np.zeros((68, 2)))
    with pytest.raises(ValueError, match="flow of shape"):
        mdmo_feature(np.zeros((3, 2, SIZE, SIZE)), FACE_LANDMARKS_112)
    with pytest.raises(ValueError, match="reference"):
        mdmo_feature(np.zeros((2, 2, SIZE, SIZE)), FACE_LANDMARKS_112, reference="apex")
