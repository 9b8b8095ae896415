"""The real-face development set: clips of people that no training corpus sees.

It is made from the London people `real_stills.development_people` keeps out of the committed
faces (20 of the 62 with a smile), read from the shared photograph folder, and is what settings
are chosen on besides validation subjects (`bench/real_faces.py`):

- `build_development_corpus`: a micro-expression corpus in the CASME II layout, read by the
  `casme2` adapter. Per person, a happiness clip moved by their own smile as measured (the
  dense optical flow from their neutral to their smiling photograph, the head's pose removed),
  and a sadness and a surprise clip moved by the AU model; all three on their real neutral
  photograph, with the renderer's timing, amplitudes, noise, drift and light.
- `write_smile_video`: a subtle real smile as a webcam would record it: the same measured
  smile at a fraction of its amplitude, at 480 px and 30 frames a second.

Not for training: nothing here is committed, and no stage reads it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attrmer.config import SynthConfig
from attrmer.io import owned_folder
from attrmer.preprocess.align import similarity_transform
from attrmer.synth.identities import SMILE_STILL_POINTS, Face
from attrmer.synth.make_stills import _Landmarker, _square_crop
from attrmer.synth.motion import AuMotion, FaceFrame
from attrmer.synth.real_stills import Person, _rgb, development_people, people
from attrmer.synth.render import (
    CORPUS_JSON,
    EMOTIONS,
    SHEET_NAME,
    ClipSpec,
    ExpressionField,
    camera_frame,
    draw_apex_amplitude,
    draw_clip,
    expression_profile,
    write_clip,
    write_sheet,
)
from attrmer.synth.warp import Warper

CLASSES = ("happiness", "sadness", "surprise")
COMMAND = "attrmer development corpus"


@dataclass
class PhotoPair:
    """One person's neutral photograph and their smiling one moved onto it (head pose
    removed), both RGB at one size, with the neutral photograph's landmarks."""

    person: Person
    neutral: np.ndarray
    smiling: np.ndarray
    landmarks: np.ndarray


def load_pair(person: Person, landmarker: _Landmarker, *, side: int, crop: bool) -> PhotoPair:
    """The pair at `side` px square: the photographs cut around the face as the committed
    stills are (`crop`), or whole."""
    if person.smiling is None:
        raise ValueError(f"{person.neutral}: this person has no smiling photograph")
    neutral, smiling = _rgb(person.neutral), _rgb(person.smiling)
    if crop:
        box, _ = landmarker(neutral)
        if box is None:
            raise RuntimeError(f"{person.neutral}: dlib finds no face")
        neutral, smiling = _square_crop(neutral, box), _square_crop(smiling, box)
    neutral = cv2.resize(neutral, (side, side), interpolation=cv2.INTER_AREA)
    smiling = cv2.resize(smiling, (side, side), interpolation=cv2.INTER_AREA)
    _, neutral_points = landmarker(neutral)
    _, smiling_points = landmarker(smiling)
    if neutral_points is None or smiling_points is None:
        raise RuntimeError(f"{person.neutral}: dlib finds no face at {side} px")
    points = list(SMILE_STILL_POINTS)
    pose = similarity_transform(smiling_points[points], neutral_points[points])
    aligned = cv2.warpAffine(smiling, pose, (side, side), flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REFLECT_101)
    return PhotoPair(person, neutral, aligned, neutral_points)


def measured_smile_field(pair: PhotoPair) -> np.ndarray:
    """The smile's dense forward motion (H, W, 2, pixels) on the neutral photograph: Farneback
    flow from it to the aligned smiling one, over the face only (the outline of the jaw and the
    brows, faded at its edge): hair, neck and background differ between the shots for other
    reasons."""
    frame = FaceFrame.from_landmarks(pair.landmarks)
    window = round(0.3 * frame.interocular) | 1
    grey = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in (pair.neutral, pair.smiling)]
    flow = cv2.calcOpticalFlowFarneback(grey[0], grey[1], None, 0.5, 4, window, 5, 7, 1.5,
                                        cv2.OPTFLOW_FARNEBACK_GAUSSIAN)
    outline = np.vstack([pair.landmarks[:17], pair.landmarks[26:16:-1]])
    mask = np.zeros(grey[0].shape, np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(outline.astype(np.int32)), 1.0)
    sigma = 0.1 * frame.interocular
    mask = cv2.GaussianBlur(mask, (0, 0), sigma) * mask
    return (flow * mask[..., None]).astype(np.float32)


def _field_peak(field: np.ndarray) -> float:
    """The field's size: the 99.5th percentile of its magnitude (a few stray flow vectors
    at the lips' edge do not set it)."""
    magnitude = np.linalg.norm(field, axis=2)
    return float(np.percentile(magnitude[magnitude > 0], 99.5))


def build_development_corpus(out_dir: Path, stills_root: Path, *, people_count: int = 15,
                             seed: int = 0, cfg: SynthConfig | None = None,
                             motion: str = "model") -> Path:
    """The CASME II-layout corpus of `people_count` development people × CLASSES.

    motion: how sadness and surprise move: "model", the renderer's AU model (the motion every
    rendered training corpus draws); "unseen", dense regional fields of another design
    (`unseen_field`) that no training corpus draws, to check learning a class's motion from
    the handful of clips a small dataset gives rather than recognising the renderer's;
    "posed", fields of the same design shaped as full posed expressions (`POSED`): every
    region at once, a surprise's jaw opening furthest and taking the chin's outline with it.
    """
    if motion not in MOTIONS:
        raise ValueError(f"motion: {motion!r} is not one of {', '.join(MOTIONS)}")
    cfg = cfg or SynthConfig()
    chosen = development_people(people(stills_root))[:people_count]
    landmarker = _Landmarker()
    rng = np.random.default_rng(seed)
    emotions = {e.name: e for e in EMOTIONS}
    specs, truths = [], []
    with owned_folder(out_dir, command=COMMAND) as tmp:
        for subject, person in enumerate(chosen, start=1):
            pair = load_pair(person, landmarker, side=cfg.frame_height, crop=True)
            face = Face.from_image(subject, f"{person.set}-{person.id}", pair.neutral,
                                   pair.landmarks)
            for episode, name in enumerate(CLASSES, start=1):
                draft = draw_clip(rng, cfg, emotions[name], face)
                apex, made = None, "AU model"
                if name == "happiness":
                    apex, made = _micro_smile(pair, face, rng, cfg), "measured real smile"
                    draft.update(aus=tuple(apex.aus), smile=None)
                elif motion != "model":
                    apex = _micro_unseen(face, name, rng, cfg, design=motion)
                    made = f"{motion} design"
                    draft.update(aus=tuple(apex.aus))
                spec = ClipSpec(filename=f"EP{episode:02d}_01", **draft)
                truths.append(write_clip(tmp, spec, face, cfg, apex=apex) | {"motion": made})
                specs.append(spec)
        write_sheet(tmp / SHEET_NAME, specs)
        (tmp / CORPUS_JSON).write_text(json.dumps({
            "what": "attrmer's real-face development corpus: people no training corpus sees",
            "people": [f"{p.set}-{p.id}" for p in chosen],
            "seed": seed,
            "motion": motion,
            "parameters": dataclasses.asdict(cfg),
            "clips": truths,
        }, indent=1) + "\n")
    return out_dir


def _micro_smile(pair: PhotoPair, face: Face, rng: np.random.Generator, cfg: SynthConfig
                 ) -> ExpressionField:
    """The person's measured smile scaled to a micro-expression's apex, drawn as the renderer
    draws an AU's (0.5-1.8 aligned px at intensity 1, at most 2)."""
    field = measured_smile_field(pair)
    amplitude = draw_apex_amplitude(rng, cfg.intensity)
    field *= np.float32(amplitude * face.pixels_per_aligned_pixel / _field_peak(field))
    aus = [AuMotion(6, None, round(amplitude, 4)), AuMotion(12, None, round(amplitude, 4))]
    peak = float(np.linalg.norm(field, axis=2).max())
    return ExpressionField(field, np.zeros((1, 2)), aus, peak)


# The unseen design: Gaussian patches of skin, each moving as one, per class. Each entry is
# (centre as a mix of landmarks, radius in inter-ocular distances, up, out) with up/out in the
# face's own axes as AU patterns give them, plus the codes a FACS coder would write.
_UNSEEN = {
    # Brows and the forehead above them rise as one sheet; the jaw drops, the mouth parting.
    "surprise": ("1+2+26", (
        ((19, 20, 21), 0.45, 1.0, 0.0), ((22, 23, 24), 0.45, 1.0, 0.0),
        ((27,), 0.35, 0.5, 0.0), ((57, 8), 0.45, -0.8, 0.0), ((66,), 0.25, -0.6, 0.0),
    )),
    # The inner brows lift and draw together; the lip corners sink; the chin boss pushes up.
    "sadness": ("1+4+15+17", (
        ((21,), 0.22, 0.8, -0.5), ((22,), 0.22, 0.8, -0.5), ((48,), 0.28, -1.0, 0.2),
        ((54,), 0.28, -1.0, 0.2), ((57, 8), 0.3, 0.6, 0.0),
    )),
}


# Full posed expressions in the same design: what a neutral and an expression photograph of
# one person differ by, replayed at a micro-expression's amplitude. The jaw of a surprise
# opens furthest (the chin's outline follows), the brows and upper lids rise; a sadness
# lifts and knits the inner brows, lets the upper lids droop, sinks the lip corners and
# pushes the lower lip up into a pout.
POSED = {
    "surprise": ("1+2+5+26", (
        ((19, 20, 21), 0.45, 0.6, 0.0), ((22, 23, 24), 0.45, 0.6, 0.0),
        ((37, 38), 0.15, 0.3, 0.0), ((43, 44), 0.15, 0.3, 0.0),
        ((57, 8), 0.55, -1.0, 0.0), ((66,), 0.25, -0.7, 0.0),
        ((6, 7), 0.4, -0.6, 0.0), ((9, 10), 0.4, -0.6, 0.0),
    )),
    "sadness": ("1+4+15+17", (
        ((21,), 0.2, 0.7, -0.4), ((22,), 0.2, 0.7, -0.4),
        ((37, 38), 0.15, -0.25, 0.0), ((43, 44), 0.15, -0.25, 0.0),
        ((48,), 0.25, -1.0, 0.1), ((54,), 0.25, -1.0, 0.1),
        ((57, 8), 0.3, 0.6, 0.0),
    )),
}
_DESIGNS = {"unseen": _UNSEEN, "posed": POSED}
MOTIONS = ("model", *_DESIGNS)


def unseen_field(face: Face, emotion: str, design: str = "unseen") -> np.ndarray:
    """A dense apex field (H, W, 2, peak 1 px) of `emotion` built from Gaussian patches of skin
    (`_UNSEEN` or `POSED`), not from the AU model's landmark patterns and thin-plate spline."""
    frame = face.frame
    height, width = face.image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    field = np.zeros((height, width, 2))
    lateral_sign = np.sign(frame.lateral(face.landmarks))
    for points, radius, up, out in _DESIGNS[design][emotion][1]:
        centre = face.landmarks[list(points)].mean(0)
        side = float(np.sign(lateral_sign[list(points)].sum()))
        direction = -up * frame.down + out * side * frame.across
        sigma = radius * frame.interocular
        weight = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma ** 2))
        field += weight[..., None] * direction
    return (field / np.linalg.norm(field, axis=2).max()).astype(np.float32)


def _micro_unseen(face: Face, emotion: str, rng: np.random.Generator, cfg: SynthConfig, *,
                  design: str) -> ExpressionField:
    """`unseen_field` at a micro-expression's apex amplitude, drawn as the renderer draws it."""
    amplitude = draw_apex_amplitude(rng, cfg.intensity)
    field = unseen_field(face, emotion, design) * np.float32(
        amplitude * face.pixels_per_aligned_pixel)
    codes = [int(code) for code in _DESIGNS[design][emotion][0].split("+")]
    aus = [AuMotion(code, None, round(amplitude, 4)) for code in codes]
    return ExpressionField(field, np.zeros((1, 2)), aus, float(np.linalg.norm(field,
                                                                              axis=2).max()))


def write_smile_video(path: Path, pair: PhotoPair, *, fraction: float = 0.3, fps: int = 30,
                      noise_sigma: float = 2.0, seed: int = 0) -> Path:
    """A subtle real smile as an .mp4: 0.5 s neutral, the measured smile rising to `fraction`
    of its full amplitude over 0.4 s, held 0.6 s, and back over 0.5 s, then 0.3 s neutral."""
    field = measured_smile_field(pair) * np.float32(fraction)
    rise, hold, fall = round(0.4 * fps), round(0.6 * fps), round(0.5 * fps)
    profile = np.concatenate([
        np.zeros(round(0.5 * fps)),
        expression_profile(2 * rise + 1, rise)[:rise + 1],
        np.ones(hold),
        expression_profile(2 * fall + 1, fall)[fall + 1:],
        np.zeros(round(0.3 * fps)),
    ])
    height, width = pair.neutral.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cannot write an mp4 here")
    warper = Warper(pair.neutral)
    rng = np.random.default_rng(seed)
    for weight in profile:
        image = camera_frame(warper.warp([(float(weight), field)], (0.0, 0.0)), 1.0,
                             noise_sigma, rng)
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path
