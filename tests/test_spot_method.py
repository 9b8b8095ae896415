"""The spotting method (`attrmer.spot`) on small synthetic inputs: a still face aligned
to the template, with one region moved, and the peak detection on hand-made curves."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from attrmer.config import ConfigError, Params, SpotConfig
from attrmer.preprocess.align import (
    KEY_POINT_WEIGHTS,
    TEMPLATE,
    key_points,
    similarity_transform,
    warp_frames,
)
from attrmer.spot.peaks import (
    Peak,
    find_peaks,
    half_height_width,
    resting_level,
    running_median,
    spot_tracks,
)
from attrmer.spot.reading import frame_numbers_of
from attrmer.spot.regions import REGION_NAMES, REGIONS, face_window, region_weights
from attrmer.spot.signal import small_grey
from attrmer.spot.tracking import _CropWarp, track_aligned
from attrmer.synth.make_stills import FACES_DIR, LANDMARKS_FILE

FPS = 30.0
SIDE = 112
FRAMES = 150  # 5 s


@pytest.fixture(scope="module")
def aligned_face() -> np.ndarray:
    """A bundled face still warped onto the template at 112 px (RGB)."""
    faces = json.loads((FACES_DIR / LANDMARKS_FILE).read_text())["faces"]
    face = faces[0]
    still = cv2.cvtColor(cv2.imread(str(FACES_DIR / face["still"])), cv2.COLOR_BGR2RGB)
    matrix = similarity_transform(key_points(np.array(face["landmarks"])), TEMPLATE * SIDE,
                                  KEY_POINT_WEIGHTS)
    return warp_frames([still], matrix, SIDE)[0]


def region_centre(name: str) -> tuple[float, float]:
    region = REGIONS[REGION_NAMES.index(name)]
    return region.centre[0] * SIDE, region.centre[1] * SIDE


def moved(face: np.ndarray, centre: tuple[float, float], amount: float,
          radius: float) -> np.ndarray:
    """`face` with a Gaussian bump of downward displacement (`amount` px at its centre)."""
    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    bump = amount * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * radius ** 2))
    return cv2.remap(face, xs, ys - bump.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def profile(onset: int, apex: int, hold: int, offset: int) -> np.ndarray:
    """0 at rest, rising linearly from `onset` to 1 at `apex`, held `hold` frames, back to 0
    at `offset`."""
    strength = np.zeros(FRAMES)
    top = apex + hold
    for t in range(FRAMES):
        if onset <= t <= apex:
            strength[t] = (t - onset) / max(apex - onset, 1)
        elif apex < t <= top:
            strength[t] = 1.0
        elif top < t <= offset:
            strength[t] = (offset - t) / max(offset - top, 1)
    return strength


def clip(face: np.ndarray, events: list[tuple[str, float, float, np.ndarray]],
         seed: int = 0, brighten: tuple[str, float, np.ndarray] | None = None) -> np.ndarray:
    """FRAMES aligned frames: each event moves a region (name, px, radius, strength per
    frame); `brighten` raises a region's grey level (name, levels, strength), as a closing
    eyelid does; sensor noise on every frame."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(FRAMES):
        frame = face
        for name, amount, radius, strength in events:
            if strength[t] > 0:
                frame = moved(frame, region_centre(name), amount * strength[t], radius)
        frame = frame.astype(np.float32)
        if brighten is not None and brighten[2][t] > 0:
            x, y = region_centre(brighten[0])
            ys, xs = np.mgrid[0:SIDE, 0:SIDE]
            spot = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 5.0 ** 2))
            frame += (brighten[1] * brighten[2][t] * spot)[..., None]
        frame += rng.normal(0, 1.5, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


def spot(frames: np.ndarray, cfg: SpotConfig | None = None):
    return spot_tracks(track_aligned(frames, cfg=cfg), fps=FPS, cfg=cfg)


def test_a_short_mouth_movement_is_one_micro_expression(aligned_face: np.ndarray) -> None:
    # Frames 60-70 (0-based): up to the apex in 5 frames, back in 5: a third of a second.
    frames = clip(aligned_face, [("mouth_left", 2.0, 6.0, profile(60, 65, 0, 70))])
    result = spot(frames)
    assert [i.kind for i in result.intervals] == ["micro"]
    interval = result.intervals[0]
    # Frame numbers are 1-based: the movement spans video frames 61-71, its apex 66.
    assert 58 <= interval.onset <= 63 and 69 <= interval.offset <= 74
    assert 64 <= interval.apex <= 68
    assert result.regions == ["mouth_left"]
    assert interval.score > result.signals.thresholds["micro"] - result.signals.levels["micro"]


def test_a_long_large_movement_is_one_macro_expression(aligned_face: np.ndarray) -> None:
    # Brows raised over 8 frames, held 1 s, lowered over 8: 1.5 s in all.
    frames = clip(aligned_face, [("brow_left", 4.0, 9.0, profile(40, 48, 30, 86)),
                                 ("brow_right", 4.0, 9.0, profile(40, 48, 30, 86))])
    result = spot(frames)
    assert [i.kind for i in result.intervals] == ["macro"]
    interval = result.intervals[0]
    assert 37 <= interval.onset <= 45 and 82 <= interval.offset <= 92
    assert result.regions[0].startswith("brow")


def test_eye_only_motion_is_a_blink_not_an_expression(aligned_face: np.ndarray) -> None:
    # The upper lid comes down over 3 frames and goes back over 4, and the eye brightens as
    # the lid covers it: nothing but the eye moves.
    closing = profile(70, 73, 0, 77)
    frames = clip(aligned_face, [("eye_left", 2.5, 4.0, closing),
                                 ("eye_right", 2.5, 4.0, closing)],
                  brighten=("eye_left", 40.0, closing))
    result = spot(frames)
    assert result.intervals == []
    assert len(result.blinks) == 1
    onset, offset = result.blinks[0]
    assert onset <= 74 <= offset


def test_a_still_face_spots_nothing(aligned_face: np.ndarray) -> None:
    result = spot(clip(aligned_face, []))
    assert result.intervals == [] and result.blinks == []
    assert np.isfinite(result.signals.micro).all()


def test_peaks_have_their_onset_apex_and_offset_where_the_curve_is_back_at_rest() -> None:
    signal = np.zeros(60)
    signal[10:15] = [1, 3, 5, 3, 1]
    signal[40:43] = [2, 4, 2]
    peaks = find_peaks(signal, threshold=2.5, level=0.0, rest_fraction=0.1)
    assert peaks == [Peak(9, 12, 15, 5.0), Peak(39, 41, 43, 4.0)]


def test_peaks_whose_spans_overlap_merge_into_the_higher_one() -> None:
    signal = np.zeros(40)
    signal[10:19] = [1, 4, 2, 1.5, 2, 6, 2, 1, 0.5]
    (peak,) = find_peaks(signal, threshold=3.0, level=0.0, rest_fraction=0.1)
    assert (peak.onset, peak.apex, peak.offset, peak.height) == (9, 15, 19, 6.0)


def test_missing_frames_count_as_rest_and_end_a_peak() -> None:
    signal = np.zeros(30)
    signal[5:12] = [1, 2, 4, 4, 2, 1, 1]
    signal[12] = np.nan
    (peak,) = find_peaks(signal, threshold=3.0, level=0.0, rest_fraction=0.1)
    assert (peak.onset, peak.offset) == (4, 12)


def test_threshold_is_the_larger_of_the_floor_and_the_noise_multiple() -> None:
    rng = np.random.default_rng(0)
    noisy = np.abs(rng.normal(0.0, 1.0, 10_000))
    level, threshold = resting_level(noisy, min_peak=0.1, noise=4.0)
    spread = 1.4826 * np.median(np.abs(noisy - np.median(noisy)))
    assert threshold == pytest.approx(level + 4.0 * spread)
    level, threshold = resting_level(np.full(100, 0.2), min_peak=0.5, noise=4.0)
    assert (level, threshold) == pytest.approx((0.2, 0.7))


def test_running_median_ignores_what_is_shorter_than_half_its_window() -> None:
    values = np.zeros((200, 1))
    values[100:110] = 5.0  # 10 frames inside a 61-frame window
    values[150:] = 3.0  # a lasting change is followed
    neutral = running_median(values, half=30)
    assert np.abs(neutral[95:115]).max() == 0.0
    assert neutral[190, 0] == 3.0
    # A long window is subsampled; it still follows a step and ignores a blip.
    long = running_median(values, half=90)
    assert long.shape == values.shape and np.abs(long[100:110]).max() < 0.5


def test_half_height_width_counts_the_frames_above_half_the_peak() -> None:
    signal = np.array([0, 1, 3, 4, 3, 2, 1, 1, 0.5, 0], float)
    assert half_height_width(signal, Peak(0, 3, 9, 4.0), level=0.0) == 4  # 3, 4, 3, 2


def test_region_weights_average_inside_each_box_within_the_window() -> None:
    weights = region_weights(48)
    rows, cols = face_window(48)
    assert weights.shape == (len(REGIONS), (rows.stop - rows.start) * (cols.stop - cols.start))
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert (weights > 0).sum(axis=1).min() >= 4  # no region is a pixel or two


def test_crop_warp_matches_the_aligned_face_it_stands_for(aligned_face: np.ndarray) -> None:
    # The aligned face shown 3x larger, turned 10 degrees, in a bigger frame: warping the
    # frame back gives the window of the aligned face at 48 px.
    size = 48
    turn = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), 10.0, 3.0)
    turn[:, 2] += (150.0, 90.0)
    frame = cv2.warpAffine(aligned_face, turn, (640, 480), borderMode=cv2.BORDER_REPLICATE)
    to_aligned = cv2.invertAffineTransform(turn) * (size / SIDE)
    crop = _CropWarp(to_aligned, frame.shape, size, cv2.COLOR_RGB2GRAY)(frame).astype(float)
    rows, cols = face_window(size)
    full = small_grey(aligned_face[None], size)[0].astype(float)

    def correlation(dx: int, dy: int) -> float:
        shifted = full[rows.start + dy:rows.stop + dy, cols.start + dx:cols.stop + dx]
        return float(np.corrcoef(crop.ravel(), shifted.ravel())[0, 1])

    # The resampling differs (a Gaussian pyramid here, an area average there), the geometry
    # does not: the crop matches best where it should, not a pixel off.
    scores = {(dx, dy): correlation(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    assert max(scores, key=scores.get) == (0, 0)
    assert scores[0, 0] > 0.94


def test_frame_numbers_come_from_the_names_when_they_rise(tmp_path) -> None:
    names = [tmp_path / f"{n}.jpg" for n in (355, 356, 358)]
    assert frame_numbers_of(names).tolist() == [355, 356, 358]
    assert frame_numbers_of([tmp_path / "img2.jpg", tmp_path / "img10.jpg"]).tolist() == [2, 10]
    assert frame_numbers_of([tmp_path / "a.jpg", tmp_path / "b.jpg"]).tolist() == [1, 2]


def test_spot_settings_are_checked_by_key() -> None:
    with pytest.raises(ConfigError, match=r"spot\.flow_window"):
        Params.from_dict({"spot": {"flow_window": 4}})
    with pytest.raises(ConfigError, match=r"spot\.micro_window_seconds"):
        Params.from_dict({"spot": {"micro_window_seconds": 5.0}})
    with pytest.raises(ConfigError, match=r"spot\.rest_fraction"):
        Params.from_dict({"spot": {"rest_fraction": 1.0}})


def test_a_blinks_pull_on_the_nose_reference_is_taken_off_every_region() -> None:
    from attrmer.spot.peaks import Peak, steady_through_blinks
    from attrmer.spot.regions import NOSE, REGION_NAMES
    from attrmer.spot.tracking import RegionTracks

    frames, regions = 12, len(REGION_NAMES)
    nose_motion = np.stack([np.linspace(0.0, 1.1, frames), np.zeros(frames)], axis=1)
    pull = np.zeros((frames, 2))
    pull[4:8, 1] = [0.05, 0.1, 0.1, 0.05]  # the lid drags the nose down during frames 4-7
    positions = np.zeros((frames, regions, 2))
    positions[:, NOSE] = nose_motion + pull
    # Every other region reads relative to the pulled nose: up by the pull; one also moves.
    others = [r for r in range(regions) if r != NOSE]
    positions[:, others] = -pull[:, None, :]
    positions[6, others[0]] += [0.3, 0.0]
    tracks = RegionTracks(positions.astype(np.float32), np.zeros((frames, regions), np.float32),
                          np.r_[False, np.ones(frames - 1, bool)], np.ones(frames, np.float32))
    blink = Peak(onset=4, apex=5, offset=7, height=5.0)
    steady = steady_through_blinks(tracks, [blink])
    # The head's own steady drift stays on the nose row; the pull is gone from the rest.
    np.testing.assert_allclose(steady[:, NOSE], nose_motion, atol=1e-6)
    expected = np.zeros((frames, len(others), 2))
    expected[6, 0] = [0.3, 0.0]
    np.testing.assert_allclose(steady[:, others], expected, atol=1e-6)
    # No blink: the positions are the tracks' own.
    np.testing.assert_array_equal(steady_through_blinks(tracks, []), positions.astype(np.float32))
