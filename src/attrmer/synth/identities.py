"""The faces the renderer draws on, and the real smiles it can replay on them.

Two sets of committed stills (`faces/`, see its NOTICE.md):
- the bundled faces, subjects 1-11 of the built-in corpus: frames of ten GRID speakers and one
  Pexels video (`landmarks.json`, `attrmer.synth.make_stills`);
- the real faces, subjects 12 on: frontal photographs of 82 people of two CC BY 4.0 sets
  (`real.json`, `attrmer.synth.real_stills`). 42 of them also have a smiling photograph, whose
  landmarks give a real smile's motion (`real_smile_pattern`).

Which faces a corpus uses is `synth.identities` (bundled, real or all) or `synth.faces`. The
built-in corpus and the long videos use the bundled faces only, as they always did.

Not for drawing what moves (`motion.py`) or rendering frames (`render.py`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attrmer.config import SynthConfig
from attrmer.frame_layouts import SYNTH_RESOLUTIONS, FrameLayout
from attrmer.preprocess.align import TEMPLATE, key_points, similarity_transform, transform_scale
from attrmer.synth.make_stills import FACES_DIR, LANDMARKS_FILE
from attrmer.synth.motion import (
    BELOW_CORNER_LEFT,
    BELOW_CORNER_RIGHT,
    CHEEK_LEFT,
    CHEEK_RIGHT,
    CHIN_BOSS,
    DIMPLE_LEFT,
    DIMPLE_RIGHT,
    N_CONTROL_POINTS,
    FaceFrame,
    control_points,
)
from attrmer.synth.real_stills import REAL_INDEX
from attrmer.synth.texture import skin_texture

# Side of the aligned face the amplitudes are measured on (the align stage's default).
ALIGNED_SIZE = 112
BUNDLED_FACES = 11
# Landmarks a smile leaves where they are (the temples' outline, the nose, the eye corners, the
# brows): the head's pose between the neutral and the smiling photograph is fitted on them and
# removed, so what remains is the smile.
SMILE_STILL_POINTS = (0, 1, 2, 14, 15, 16, *range(17, 31), 33, 36, 39, 42, 45)
# Where a smile (AU6 + AU12) moves the face: the lips, the lower lids, the nose wings and the
# skin of the cheeks, dimples and chin. Elsewhere the two photographs differ by what a planar
# pose cannot remove (the head nodding between the shots moves the nose tip and brows by as
# much as the smile moves the lips in some of the 42 pairs) and by landmark jitter, which are
# not the smile; they are held still there.
SMILE_REGION = (*range(48, 68), 40, 41, 46, 47, 31, 35, CHEEK_RIGHT, CHEEK_LEFT, CHIN_BOSS,
                BELOW_CORNER_RIGHT, BELOW_CORNER_LEFT, DIMPLE_RIGHT, DIMPLE_LEFT)


@dataclass
class Face:
    """One identity scaled to the frame height: image RGB uint8, landmarks in its pixels."""

    subject: int
    still: str
    image: np.ndarray
    landmarks: np.ndarray
    # Frame pixels per pixel of the 112×112 aligned face (what the align stage's transform
    # would scale this face by, inverted).
    pixels_per_aligned_pixel: float

    @property
    def frame(self) -> FaceFrame:
        return FaceFrame.from_landmarks(self.landmarks)

    @classmethod
    def from_image(cls, subject: int, still: str, image: np.ndarray, landmarks: np.ndarray
                   ) -> Face:
        """A face at the scale it has in `image` (landmarks in its pixels)."""
        matrix = similarity_transform(key_points(landmarks), TEMPLATE * ALIGNED_SIZE)
        return cls(subject, still, image, landmarks, 1.0 / transform_scale(matrix))


def _records(faces_dir: Path, index: str) -> list[dict]:
    index_path = faces_dir / index
    try:
        return json.loads(index_path.read_text())["faces"]
    except FileNotFoundError:
        raise FileNotFoundError(f"{index_path}: the stills' landmark file is missing") from None


def load_faces(frame_height: int, faces_dir: Path = FACES_DIR, *,
               resolution: str = "builtin", real: bool = False) -> list[Face]:
    """The committed stills, in subject order (face k is subject k): resized to
    `frame_height` (builtin), or placed in frames of a real dataset's size and face scale
    (`SYNTH_RESOLUTIONS`). `real`: the real faces too, after the bundled ones."""
    records = _records(faces_dir, LANDMARKS_FILE)
    if real:
        records = records + _records(faces_dir, REAL_INDEX)
    faces = []
    for subject, record in enumerate(records, start=1):
        path = faces_dir / record["still"]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"{path}: face still missing or unreadable")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        landmarks = np.asarray(record["landmarks"], np.float64)
        if resolution == "builtin":
            image, landmarks = _resized(rgb, landmarks, frame_height / rgb.shape[0])
        else:
            image, landmarks = _in_frame(rgb, landmarks, SYNTH_RESOLUTIONS[resolution],
                                         seed=subject)
        faces.append(Face.from_image(subject, record["still"], image, landmarks))
    if not faces:
        raise ValueError(f"{faces_dir / LANDMARKS_FILE}: lists no faces")
    return faces


def needs_real_faces(cfg: SynthConfig) -> bool:
    return cfg.identities != "bundled" or any(n > BUNDLED_FACES for n in cfg.faces)


def load_corpus_faces(cfg: SynthConfig) -> list[Face]:
    """The faces a corpus of `cfg` may draw on, indexed by subject - 1."""
    return load_faces(cfg.frame_height, resolution=cfg.resolution, real=needs_real_faces(cfg))


def real_subjects(faces_dir: Path = FACES_DIR) -> list[int]:
    """The subject numbers of the real faces (after the bundled ones)."""
    count = len(_records(faces_dir, REAL_INDEX))
    return list(range(BUNDLED_FACES + 1, BUNDLED_FACES + count + 1))


def chosen_faces(cfg: SynthConfig, faces: list[Face]) -> list[Face]:
    """The faces `cfg.faces` names, else those of `cfg.identities`, in subject order."""
    if not cfg.faces:
        if cfg.identities == "bundled":
            return [face for face in faces if face.subject <= BUNDLED_FACES]
        if cfg.identities == "real":
            return [face for face in faces if face.subject > BUNDLED_FACES]
        return faces
    known = {face.subject for face in faces}
    unknown = sorted(set(cfg.faces) - known)
    if unknown:
        raise ValueError(f"synth.faces: no face {unknown[0]} (there are {len(faces)})")
    return [face for face in faces if face.subject in cfg.faces]


def _resized(image: np.ndarray, landmarks: np.ndarray, scale: float
             ) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    size = (round(width * scale), round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    # OpenCV's own resampling, not Intel IPP's: IPP's bicubic kernel rounds differently on
    # AVX2 and AVX-512 CPUs, so every frame of a face would differ between the two in a few
    # pixels; OpenCV's is fixed-point arithmetic, the same bits on every CPU.
    use_ipp = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)  # a per-thread setting
    try:
        resized = cv2.resize(image, size, interpolation=interpolation)
    finally:
        cv2.ipp.setUseIPP(use_ipp)
    # Pixel centres: a point at x in the still lies at (x + 0.5)·scale − 0.5 after resizing.
    return resized, (landmarks + 0.5) * [size[0] / width, size[1] / height] - 0.5


def _in_frame(image: np.ndarray, landmarks: np.ndarray, layout: FrameLayout, *, seed: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """The still enlarged to the layout's face scale, given skin texture at that scale, and
    blended into a frame of the layout's size over a plain background of its border colour."""
    matrix = similarity_transform(key_points(landmarks), TEMPLATE * ALIGNED_SIZE)
    still_ppa = 1.0 / transform_scale(matrix)
    face, points = _resized(image, landmarks, layout.pixels_per_aligned_px / still_ppa)
    face = face.astype(np.float32)
    face += skin_texture(face.shape[:2], np.random.default_rng(seed),
                         layout.pixels_per_aligned_px)[..., None]
    height, width = face.shape[:2]
    if height > layout.height or width > layout.width:
        raise ValueError(f"synth: a {width}×{height} face does not fit a "
                         f"{layout.width}×{layout.height} frame")
    border = np.concatenate([face[0], face[-1], face[:, 0], face[:, -1]])
    frame = np.empty((layout.height, layout.width, 3), np.float32)
    frame[:] = np.median(border, axis=0)
    # Feathered edges: the still's square fades into the background over 12 % of its side.
    ramp = np.clip(np.minimum(np.arange(width), np.arange(width)[::-1]) / (0.12 * width), 0, 1)
    ramp_y = np.clip(np.minimum(np.arange(height), np.arange(height)[::-1]) / (0.12 * height),
                     0, 1)
    alpha = (ramp_y[:, None] * ramp[None, :])[..., None]
    top, left = (layout.height - height) // 2, (layout.width - width) // 2
    frame[top:top + height, left:left + width] = (
        alpha * face + (1 - alpha) * frame[top:top + height, left:left + width])
    frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    if layout.grey:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        frame = np.repeat(grey[..., None], 3, axis=2)
    return frame, points + np.array([left, top], np.float64)


# ----------------------------------------------------------------------------- real smiles ---


def smile_displacement(neutral: np.ndarray, smiling: np.ndarray) -> np.ndarray:
    """Control-point displacement (pixels of the neutral photo) from a person's neutral to their
    smiling landmarks, the head's pose between the photographs removed on the points a smile
    leaves still, kept where a smile moves the face (`SMILE_REGION`)."""
    points = list(SMILE_STILL_POINTS)
    pose = similarity_transform(smiling[points], neutral[points])
    aligned = smiling @ pose[:, :2].T + pose[:, 2]
    moves = (control_points(FaceFrame.from_landmarks(aligned))
             - control_points(FaceFrame.from_landmarks(neutral)))
    region = np.zeros(N_CONTROL_POINTS, bool)
    region[list(SMILE_REGION)] = True
    moves[~region] = 0.0
    return moves


@functools.cache
def real_smile_patterns(faces_dir: Path = FACES_DIR) -> dict[str, np.ndarray]:
    """Each real smile (by its person's still) as a pattern in that face's own frame:
    (N_CONTROL_POINTS, 2) of (across, down) components, scaled to a peak of 1."""
    patterns = {}
    for record in _records(faces_dir, REAL_INDEX):
        if "smiling_landmarks" not in record:
            continue
        neutral = np.asarray(record["landmarks"], np.float64)
        moves = smile_displacement(neutral, np.asarray(record["smiling_landmarks"], np.float64))
        frame = FaceFrame.from_landmarks(neutral)
        pattern = np.stack([moves @ frame.across, moves @ frame.down], axis=1)
        patterns[record["still"]] = pattern / np.linalg.norm(pattern, axis=1).max()
    return patterns


def real_smile_moves(face: FaceFrame, pattern: np.ndarray, peak_px: float) -> np.ndarray:
    """A real smile's pattern carried onto `face` along its own axes, its most-moved control
    point moving `peak_px` pixels."""
    return peak_px * (pattern[:, :1] * face.across + pattern[:, 1:] * face.down)
