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
