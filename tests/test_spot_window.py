"""The expression window of `attrmer predict --window auto`: motion signal and window finder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from attrmer.preprocess.align import TEMPLATE
from attrmer.spot import MotionSignal, find_window, motion_signal
from attrmer.spot.signal import face_mask

FACES = Path(__file__).resolve().parents[1] / "src" / "attrmer" / "synth" / "faces"
SIDE = 112


def face_crop() -> np.ndarray:
    stills = sorted(FACES.glob("*.jpg"))
    if not stills:
        pytest.skip(f"no committed face still in {FACES}")
    still = cv2.cvtColor(cv2.imread(str(stills[0])), cv2.COLOR_BGR2RGB)
    return cv2.resize(still, (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def displaced(image: np.ndarray, centre: tuple[float, float], amount: float,
              radius: float = 10.0) -> np.ndarray:
    """`image` with a Gaussian bump of upward displacement (`amount` px at its centre)."""
    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    bump = amount * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * radius ** 2))
    return cv2.remap(image, xs, ys + bump.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def clip_with(region: tuple[float, float], onset: int, apex: int, offset: int,
              total: int = 40, amount: float = 3.0, radius: float = 10.0) -> np.ndarray:
    """A still face with one movement in `region` (fractions of the side): rising from
    `onset` to `apex`, back to rest at `offset`."""
    face = face_crop()
    centre = (region[0] * SIDE, region[1] * SIDE)
    frames = []
    for t in range(total):
        if onset <= t <= apex:
            strength = (t - onset) / max(apex - onset, 1)
        elif apex < t <= offset:
            strength = (offset - t) / max(offset - apex, 1)
        else:
            strength = 0.0
        frames.append(displaced(face, centre, amount * strength, radius))
    return np.stack(frames)


def test_a_mouth_movement_is_found_between_its_onset_and_offset() -> None:
    mouth = (0.5, float(TEMPLATE[3, 1]))
    window = find_window(motion_signal(clip_with(mouth, onset=12, apex=20, offset=28)))
    assert window.found
    assert 17 <= window.apex <= 23
    assert 9 <= window.onset <= 15 and 25 <= window.offset <= 31


def test_a_blink_is_not_an_expression() -> None:
    eye = tuple(TEMPLATE[0])  # an eyelid: a 2 px movement a few pixels across
    window = find_window(motion_signal(clip_with(eye, onset=12, apex=15, offset=18,
                                                 amount=2.0, radius=4.0)))
    assert not window.found
    assert (window.onset, window.offset) == (0, 39)


def test_face_mask_leaves_the_eyes_out() -> None:
    mask = face_mask(SIDE)
    for x, y in TEMPLATE[:2]:
        assert not mask[int(y * SIDE), int(x * SIDE)]
    assert mask[int(TEMPLATE[3, 1] * SIDE), SIDE // 2]  # the mouth is in
    assert not mask[2, 2]  # the background corner is out


def test_a_still_clip_keeps_every_frame() -> None:
    window = find_window(MotionSignal(np.full(30, 0.05, np.float32)))
    assert not window.found and (window.onset, window.offset) == (0, 29)


def test_fraction_must_be_inside_zero_and_one() -> None:
    with pytest.raises(ValueError, match="fraction"):
        find_window(MotionSignal(np.zeros(5, np.float32)), fraction=1.5)


class _Detector:
    """Stands in for the face aligner: a face in the frames marked True, none elsewhere."""

    def __init__(self, has_face: list[bool]) -> None:
        self.has_face = has_face
        self.calls: list[int] = []

    def detect(self, frame: np.ndarray, upsample: int = 0):
        index = int(frame[0, 0, 0])
        self.calls.append(index)
        return np.zeros((68, 2), np.float32) if self.has_face[index] else None


def _tagged(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Copies whose first pixel holds the frame index (what _Detector reads)."""
    tagged = [frame.copy() for frame in frames]
    for i, frame in enumerate(tagged):
        frame[0, 0, 0] = i
    return tagged


def test_face_span_ends_where_the_face_leaves_the_shot() -> None:
    from attrmer.spot.presence import face_span

    face = face_crop()
    rng = np.random.default_rng(0)
    scene = [rng.integers(0, 255, face.shape, dtype=np.uint8) for _ in range(8)]
    aligned = np.stack([displaced(face, (56, 80), 0.5 * i) for i in range(12)] + scene)
    detector = _Detector([True] * 12 + [False] * 8)
    assert face_span(_tagged(list(aligned)), aligned, detector) == 12
    # A face that stays costs no detection at all.
    still = np.stack([displaced(face, (56, 80), 0.5 * (i % 3)) for i in range(20)])
    detector = _Detector([True] * 20)
    assert face_span(_tagged(list(still)), still, detector) == 20
    assert detector.calls == []


def test_face_span_keeps_a_changed_face_that_is_still_detected() -> None:
    from attrmer.spot.presence import face_span

    face = face_crop()
    # The head moved far from where the one alignment put it: the crops no longer match the
    # first, but the detector still finds the face, so nothing is cut.
    moved = np.stack([face] * 4 + [np.roll(face, (25, 30), axis=(0, 1))] * 6)
    detector = _Detector([True] * 10)
    assert face_span(_tagged(list(moved)), moved, detector) == 10
    assert detector.calls
