"""Face alignment: one geometry per clip, eye centres on the template, reasons for bad faces."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from attrmer.preprocess.align import (
    KEY_POINT_WEIGHTS,
    TEMPLATE,
    FaceAligner,
    apply_transform,
    key_points,
    similarity_transform,
    transform_scale,
    warp_frames,
)
from attrmer.preprocess.frames import ClipError, read_video
from attrmer.synth.make_stills import FACES_DIR, LANDMARKS_FILE

STILL = Path(__file__).resolve().parents[1] / "src/attrmer/synth/faces/grid-brbk7n.jpg"


@pytest.fixture(scope="module")
def aligner() -> FaceAligner:
    return FaceAligner(112)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A real frontal face (RGB): the bundled GRID still, else the GRID frame it came from."""
    if STILL.is_file():
        return cv2.cvtColor(cv2.imread(str(STILL)), cv2.COLOR_BGR2RGB)
    video = Path(__file__).resolve().parents[2] / "shared/data/faces-video/brbk7n.mpg"
    if not video.is_file():
        pytest.skip("no face image: neither the bundled stills nor ../shared are present")
    return read_video(video, max_frames=12)[11]


def on_canvas(face: np.ndarray, angle: float, shift: tuple[float, float], scale: float,
              size: int = 420) -> np.ndarray:
    """The face pasted in the middle of a plain canvas, then rotated, scaled and moved."""
    canvas = np.full((size, size, 3), 120, np.uint8)
    h, w = face.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    canvas[top:top + h, left:left + w] = face
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += shift
    return cv2.warpAffine(canvas, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderValue=(120, 120, 120))


def test_similarity_transform_recovers_a_known_one() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = np.deg2rad(20), 1.3, np.array([4.0, -7.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = points @ rotation.T + shift
    matrix = similarity_transform(points, target, np.array([4, 4, 1, 1, 1]))
    np.testing.assert_allclose(matrix, np.hstack([rotation, shift[:, None]]), atol=1e-9)


@pytest.mark.parametrize(("angle", "shift", "scale"), [
    (0.0, (0, 0), 1.0),
    (15.0, (40, -25), 1.0),
    (-12.0, (-30, 35), 0.8),
    (8.0, (10, 20), 1.25),
])
def test_moved_and_rotated_face_lands_its_eyes_on_the_template(
    aligner: FaceAligner, face: np.ndarray, angle: float, shift: tuple, scale: float
) -> None:
    frame = on_canvas(face, angle, shift, scale)
    result = aligner.align([frame, frame])
    eyes = key_points(result.landmarks)[:2]
    assert np.linalg.norm(eyes - TEMPLATE[:2] * 112, axis=1).max() < 1.0
    assert result.frames.shape == (2, 112, 112, 3) and result.frames.dtype == np.uint8
    assert result.status == "ok" and result.detected_frame == 0
    np.testing.assert_allclose(apply_transform(result.matrix, result.source_landmarks),
                               result.landmarks, atol=1e-3)
    # The aligned picture, not only the landmarks, is the same whatever the motion.
    reference = aligner.align([on_canvas(face, 0.0, (0, 0), 1.0)]).frames[0]
    difference = np.abs(result.frames[0].astype(int) - reference.astype(int))
    assert np.median(difference) < 12


def test_one_geometry_is_applied_to_every_frame(aligner: FaceAligner, face: np.ndarray) -> None:
    frames = [on_canvas(face, 0.0, (0, 0), 1.0), on_canvas(face, 0.0, (6, 0), 1.0)]
    result = aligner.align(frames)
    # The second frame is warped with the first frame's transform, so the 6 px move stays
    # (scaled to the aligned size) instead of being aligned away.
    scale = np.sqrt(abs(np.linalg.det(result.matrix[:, :2])))
    moved = on_canvas(face, 0.0, (6, 0), 1.0)
    np.testing.assert_array_equal(result.frames[1], warp_frames([moved], result.matrix, 112)[0])
    assert 6 * scale > 1.0


def test_no_face_is_found_later_in_the_clip(aligner: FaceAligner, face: np.ndarray) -> None:
    blank = np.full((300, 300, 3), 90, np.uint8)
    frames = [blank, blank, on_canvas(face, 0.0, (0, 0), 1.0), blank]
    result = aligner.align(frames)
    assert result.detected_frame == 2
    assert result.frames.shape[0] == 4


def test_no_face_anywhere_is_a_clip_error(aligner: FaceAligner) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    with pytest.raises(ClipError) as info:
        aligner.align([noise, np.zeros_like(noise)])
    assert info.value.reason == "no face found"


def test_face_leaving_the_frame_has_its_own_reason(aligner: FaceAligner,
                                                   face: np.ndarray) -> None:
    h, w = face.shape[:2]
    canvas = np.full((300, 300, 3), 128, np.uint8)
    cut = int(h * 0.4)  # the lower 40 % of the crop (mouth and chin) lies below the image
    canvas[300 - (h - cut):, 40:40 + w] = face[: h - cut]
    with pytest.raises(ClipError) as info:
        aligner.align([canvas, canvas])
    assert info.value.reason == "face leaves the frame"
    assert "landmarks outside" in str(info.value)


def test_aligner_pickles_without_its_dlib_objects(aligner: FaceAligner,
                                                  face: np.ndarray) -> None:
    aligner.detect(face)  # loaded here
    copy = pickle.loads(pickle.dumps(aligner))
    assert copy._detector is None and copy.size == 112
    np.testing.assert_array_equal(copy.align([face, face]).frames,
                                  aligner.align([face, face]).frames)


# --- the anti-aliased warp -------------------------------------------------------------------

def _gradient_frame(width: int, height: int) -> np.ndarray:
    """Smooth content (no detail near Nyquist): any correct resampler gives the same picture."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    grey = 128 + 60 * np.sin(x / 41.0) * np.cos(y / 57.0)
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize("shrink", [1.0, 2.5, 5.0])
@pytest.mark.parametrize("angle", [0.0, 11.0])
def test_warp_lands_pixels_where_the_transform_says(shrink: float, angle: float) -> None:
    # Area pass + residual warp must be the same geometry as the plain warp: on smooth content
    # the two pictures agree, wherever the output square lies in the frame.
    frame = _gradient_frame(900, 700)
    rotation = cv2.getRotationMatrix2D((0.0, 0.0), angle, 1.0 / shrink)
    matrix = np.vstack([rotation[0], rotation[1]])
    matrix[:, 2] = [-180.0 / shrink, -260.0 / shrink]
    assert transform_scale(matrix) == pytest.approx(1.0 / shrink)
    antialiased = warp_frames([frame], matrix, 112)[0].astype(int)
    plain = warp_frames([frame], matrix, 112, antialias=False)[0].astype(int)
    assert np.abs(antialiased - plain).max() <= 2


def test_warp_near_the_frame_edge_replicates_the_border() -> None:
    frame = _gradient_frame(300, 260)
    matrix = np.array([[1 / 3, 0.0, 10.0], [0.0, 1 / 3, -20.0]])  # the square spills off the top
    antialiased = warp_frames([frame], matrix, 112)[0].astype(int)
    plain = warp_frames([frame], matrix, 112, antialias=False)[0].astype(int)
    assert np.abs(antialiased - plain).max() <= 2


def test_warp_averages_noise_away_when_it_shrinks() -> None:
    noise = np.random.default_rng(0).normal(128, 20, (560, 560)).clip(0, 255).astype(np.uint8)
    frame = np.repeat(noise[..., None], 3, axis=2)
    matrix = np.array([[0.2, 0.0, 0.0], [0.0, 0.2, 0.0]])  # a 5x shrink
    # Bilinear sampling keeps the noise (σ ≈ 20 / √(4·¼²·…) ≈ 11); averaging 25 pixels, σ ≈ 4.
    assert warp_frames([frame], matrix, 112, antialias=False)[0].std() > 9
    assert warp_frames([frame], matrix, 112)[0].std() < 5


# --- the template keeps the whole face --------------------------------------------------------

MARGIN_PX = 4.0


def _margins(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """(left, top, right, bottom) distance of the closest of the 68 aligned landmarks."""
    matrix = similarity_transform(key_points(landmarks), TEMPLATE * size, KEY_POINT_WEIGHTS)
    aligned = apply_transform(matrix, landmarks)
    return np.array([aligned[:, 0].min(), aligned[:, 1].min(),
                     size - 1 - aligned[:, 0].max(), size - 1 - aligned[:, 1].max()])


def test_every_landmark_of_the_bundled_faces_is_inside_the_crop() -> None:
    faces = json.loads((FACES_DIR / LANDMARKS_FILE).read_text())["faces"]
    assert len(faces) == 11
    for face in faces:
        margins = _margins(np.asarray(face["landmarks"], np.float64))
        assert margins.min() >= MARGIN_PX, (face["still"], margins.round(1))


def test_mdmo_regions_lie_inside_the_crop() -> None:
    from attrmer.baselines.mdmo import roi_masks, roi_polygons

    for face in json.loads((FACES_DIR / LANDMARKS_FILE).read_text())["faces"]:
        landmarks = np.asarray(face["landmarks"], np.float64)
        matrix = similarity_transform(key_points(landmarks), TEMPLATE * 112, KEY_POINT_WEIGHTS)
        aligned = apply_transform(matrix, landmarks)
        corners = np.concatenate(roi_polygons(aligned))
        assert corners.min() >= 0 and corners.max() <= 111, face["still"]
        assert roi_masks(aligned, 112, 112).reshape(36, -1).sum(axis=1).min() > 0


@pytest.mark.shared
@pytest.mark.slow
def test_every_landmark_of_the_real_clips_is_inside_the_crop(aligner: FaceAligner,
                                                             shared_data: Path) -> None:
    videos = sorted((shared_data / "faces-video").glob("*.mpg"))
    videos += [shared_data / "faces-video" / "WolfgangLanger_Pexels.mp4",
               shared_data / "faces-video" / "single_face.mp4"]
    checked = 0
    for video in videos:
        frames = read_video(video)
        # Frames across the whole clip: the crying-to-laughing clip opens the mouth wide.
        for index in np.linspace(0, len(frames) - 1, 6).round().astype(int):
            landmarks = aligner.detect(frames[index])
            assert landmarks is not None, f"{video.name} frame {index}: no face"
            margins = _margins(landmarks)
            assert margins.min() >= MARGIN_PX, (video.name, int(index), margins.round(1))
            checked += 1
    assert checked == 6 * len(videos)


# --- real faces from ../shared ----------------------------------------------------------------

@pytest.mark.shared
@pytest.mark.slow
def test_real_face_videos_align(aligner: FaceAligner, shared_data: Path) -> None:
    videos = sorted((shared_data / "faces-video").glob("*.mpg"))
    videos += [shared_data / "faces-video" / "WolfgangLanger_Pexels.mp4",
               shared_data / "faces-video" / "single_face.mp4"]
    strip = []
    for video in videos:
        frames = read_video(video, max_frames=24)
        result = aligner.align(frames)
        assert result.status == "ok", video.name
        eyes = key_points(result.landmarks)[:2]
        assert np.linalg.norm(eyes - TEMPLATE[:2] * 112, axis=1).max() < 3.0, video.name
        strip.append(np.hstack(list(result.frames[::6][:4])))
    cv2.imwrite("/tmp/attrmer-aligned-strip.png", cv2.cvtColor(np.vstack(strip),
                                                                cv2.COLOR_RGB2BGR))


@pytest.mark.shared
@pytest.mark.slow
def test_face_then_no_face_video_does_not_crash(aligner: FaceAligner,
                                                shared_data: Path) -> None:
    frames = read_video(shared_data / "faces-video" / "face_noface.mov")
    assert len(frames) > 100
    # The clip as a whole: the face of its first part gives the geometry.
    assert aligner.align(frames[::8]).status == "ok"
    # Its cartoon tail alone: a clean "no face found", not a crash.
    with pytest.raises(ClipError) as info:
        aligner.align(frames[-30::6])
    assert info.value.reason == "no face found"
