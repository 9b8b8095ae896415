"""Face alignment: one geometry per clip, eye centres on the template, reasons for bad faces."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from attrmer.preprocess.align import (
    TEMPLATE,
    FaceAligner,
    apply_transform,
    key_points,
    similarity_transform,
)
from attrmer.preprocess.frames import ClipError, read_video

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
    expected = cv2.warpAffine(moved, result.matrix, (112, 112), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(result.frames[1], expected)
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
