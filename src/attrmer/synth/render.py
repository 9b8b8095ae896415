"""Render the built-in synthetic micro-expression corpus in the CASME II layout.

`render_corpus(out_dir, cfg)` draws the clips (emotion, FACS action units, intensity, timing,
nuisances) from `cfg.seed`, renders each one by warping a committed face still
(`faces/`, one synthetic subject per person), and writes, as one atomic directory:

- `CASME2-coding-synthetic.xlsx`: the 2014 CASME II coding sheet format, read by the CASME II
  adapter like the real sheet;
- `CASME2_RAW_selected/subXX/<Filename>/img<N>.jpg`: frames N = onset .. offset;
- `corpus.json`: the parameters and each clip's ground truth (AUs, sides, amplitudes, apex
  displacement, blink, drift);
- `contact/<emotion>.png`: contact sheets to look at.

Labels. Emotions follow CASME II's proportions over the paper's five classes (disgust most,
sadness fewest but enough to learn), plus a small share of fear, anger and others, which the
paper's class set leaves out as it does for real CASME II. Each emotion draws its AUs from
combinations like those the CASME II and MMEW coders wrote, with some spread and some one-sided
variants. Blinks (AU45) happen independently of the emotion and are NOT written into the sheet's
AU cell: CASME II's coders mostly left blinks out, and a blink in the cell would make the
AU sentence carry a nuisance as class evidence. `corpus.json` records every blink.

Its pieces (faces, AU draws, apex and blink fields, camera noise, the workbook writer) also
render the long-video spotting corpus, `attrmer.synth.long_video`.

Not for reading the corpus back: that is `attrmer.datasets.synthetic` (the CASME II adapter).
"""

from __future__ import annotations

import dataclasses
import io
import json
import multiprocessing
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from attrmer.config import SynthConfig
from attrmer.cpus import available_cpus
from attrmer.frame_layouts import SYNTH_RESOLUTIONS
from attrmer.io import owned_folder
from attrmer.synth.identities import (
    ALIGNED_SIZE,
    Face,
    chosen_faces,
    load_corpus_faces,
    real_smile_moves,
    real_smile_patterns,
)
from attrmer.synth.motion import (
    AuMotion,
    blink_displacement,
    control_points,
    expression_displacement,
    speech_displacement,
)
from attrmer.synth.warp import Warper, thin_plate_field

if TYPE_CHECKING:
    from openpyxl import Workbook

SHEET_NAME = "CASME2-coding-synthetic.xlsx"
FRAMES_DIR = "CASME2_RAW_selected"
CORPUS_JSON = "corpus.json"
CONTACT_DIR = "contact"
# Settings added after the built-in corpus was first drawn, with their defaults.
LATER_SETTINGS = {"faces": [], "identities": "bundled", "real_smiles": 0.0, "prototypes": 0.0}
# What a render writes: a folder holding only these is an earlier render (see attrmer.io).
CORPUS_ENTRIES = frozenset({SHEET_NAME, FRAMES_DIR, CORPUS_JSON, CONTACT_DIR})
SHEET_HEADER = (
    "Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
    "Action Units", "Estimated Emotion",
)
# Upper bound of a clip's apex displacement at intensity 1, aligned pixels.
MAX_APEX_ALIGNED_PX = 2.0
# Control points closer than this (in inter-ocular distances) move as one: see
# `warp.merge_close_points`.
MERGE_SEPARATION_IOD = 0.06
# Fixed workbook timestamps: openpyxl would write the time of saving, breaking determinism.
SHEET_TIMESTAMP = datetime(2014, 5, 8)
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Emotion:
    name: str
    share: float  # of all clips
    # AU combinations as a coder writes them, each with a relative weight.
    combinations: tuple[tuple[str, float], ...]
    # The emotion's full prototypes (EMFACS), for synth.prototypes: every region the expression
    # moves at once, as a posed or spontaneous full expression shows it. Empty: none (CASME
    # II's repression and others are not among EMFACS' emotions).
    prototypes: tuple[tuple[str, float], ...] = ()


# Prototypes after Friesen & Ekman's EMFACS table (as the FACS Investigator's Guide, Ekman,
# Friesen & Hager 2002, lists them), with the AUs the renderer has no pattern for (11, 16, 54,
# 64) left out. A mouth opening moves further than a brow: `PROTOTYPE_STRENGTH`.
# Shares: CASME II (2014) has disgust 63, happiness 32, repression 27, surprise 25,
# sadness 7 among the paper's classes; sadness is raised so 200 clips hold 14 of it.
EMOTIONS: tuple[Emotion, ...] = (
    Emotion("disgust", 0.28, (
        ("4+7", 4), ("9", 2), ("10", 2), ("4", 2), ("4+9", 1), ("4+10", 1), ("R10", 1),
        ("L10", 1), ("4+7+10", 1), ("R4+R7", 1),
    ), prototypes=(
        ("9", 2), ("9+17", 2), ("10", 1), ("10+17", 1), ("9+10", 1), ("4+9+10", 1),
        ("9+15+17", 1), ("10+25+26", 1),
    )),
    Emotion("happiness", 0.19, (
        ("6+12", 4), ("12", 4), ("R12", 1), ("L12", 1), ("6", 1), ("12+25", 1),
        ("6+12+25", 1),
    ), prototypes=(("6+12", 3), ("12", 1), ("6+12+25", 1), ("6+12+25+26", 1))),
    Emotion("repression", 0.16, (
        ("14", 2), ("15", 2), ("17", 2), ("24", 1), ("15+17", 2), ("L14", 1), ("R14", 1),
        ("17+24", 1), ("14+17", 1),
    )),
    Emotion("surprise", 0.14, (
        ("1+2", 4), ("1+2+5", 1), ("1+2+25", 2), ("1+2+26", 1), ("1+2+25+26", 1), ("L1+L2", 1),
        ("1+2+5+25", 1),
    ), prototypes=(
        ("1+2+5+26", 3), ("1+2+5+27", 3), ("1+2+26", 2), ("1+2+27", 2), ("5+26", 1),
        ("5+27", 1), ("1+2+5", 1),
    )),
    Emotion("sadness", 0.07, (
        ("1+4", 2), ("15", 2), ("17", 1), ("1+4+15", 1), ("1+15", 1), ("15+17", 1), ("1", 1),
    ), prototypes=(
        ("1+4+15", 3), ("1+4+15+17", 3), ("6+15", 2), ("1+4+17", 1), ("15+17", 1),
        ("1+4+15+25", 1), ("6+15+17", 1),
    )),
    Emotion("fear", 0.04, (
        ("1+2+4", 2), ("20", 2), ("1+2+4+20", 1), ("4+20", 1), ("1+4+5", 1),
    ), prototypes=(
        ("1+2+4+5+20+26", 2), ("1+2+4+5+20+25", 1), ("1+2+4+5", 1), ("1+2+5+20", 1),
        ("5+20", 1), ("1+2+4+5+27", 1),
    )),
    Emotion("anger", 0.04, (
        ("4+5+7+23", 1), ("4+7+23", 2), ("4+23", 1), ("4+5", 1), ("23", 1), ("4+7+24", 1),
    ), prototypes=(
        ("4+5+7+23", 1), ("4+5+7+24", 1), ("4+5+7+10+23+25", 1), ("4+5+7+17+23", 1),
        ("4+5+7+17+24", 1),
    )),
    Emotion("others", 0.08, (
        ("4", 1), ("7", 1), ("L2", 1), ("14+17", 1), ("5", 1), ("25", 1), ("20", 1), ("24", 1),
        ("2", 1), ("R4", 1), ("1", 1), ("L15", 1), ("26", 1),
    )),
)
_TOKEN = re.compile(r"^([LR]?)(\d+)$")


def parse_combination(code: str) -> list[tuple[int, str | None]]:
    """`"4+R10"` -> [(4, None), (10, "R")]."""
    parsed = []
    for token in code.split("+"):
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError(f"AU combination {code!r}: cannot read {token!r}")
        parsed.append((int(match.group(2)), match.group(1) or None))
    return parsed


def au_cell(aus: tuple[AuMotion, ...]) -> str | int:
    """The sheet's AU cell: a lone bilateral AU as a number, like CASME II; else `4+R10`."""
    ordered = sorted(aus, key=lambda a: a.number)
    if len(ordered) == 1 and ordered[0].side is None:
        return ordered[0].number
    return "+".join(a.code for a in ordered)


# ------------------------------------------------------------------------------- planning ---


@dataclass(frozen=True)
class Blink:
    start: int  # frame index (0 = onset) where the lids start to fall
    close_frames: int
    open_frames: int
    closure: float  # share of the eye's opening covered at the deepest point


@dataclass(frozen=True)
class Speech:
    """The mouth opening and closing as in speech: `rate_hz` syllables a second."""

    rate_hz: float
    phase: float  # radians at the clip's first frame
    opening_px: float  # widest opening, aligned pixels


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one clip; drawn up front so rendering order is irrelevant."""

    subject: int
    filename: str
    emotion: str
    aus: tuple[AuMotion, ...]
    onset_frame: int  # sheet frame number of the first frame
    n_frames: int
    apex_index: int  # 0-based, within the clip
    blink: Blink | None
    drift: tuple[tuple[float, float], ...]  # (x, y) shift per frame, pixels
    gain: tuple[float, ...]  # illumination gain per frame
    noise_seed: int
    speech: Speech | None = None
    # The still of the real person whose smile moves this clip (synth.real_smiles), or None:
    # the AU model moves it.
    smile: str | None = None

    @property
    def apex_frame(self) -> int:
        return self.onset_frame + self.apex_index

    @property
    def offset_frame(self) -> int:
        return self.onset_frame + self.n_frames - 1


def _quota(shares: list[float], total: int) -> list[int]:
    """Largest-remainder apportionment: counts that follow the shares and sum to total."""
    weights = np.asarray(shares, np.float64) / sum(shares)
    raw = weights * total
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts.tolist()


def _smooth_curve(rng: np.random.Generator, n: int) -> np.ndarray:
    """A slow random curve over the clip, starting at 0, peak magnitude 1 (or all zeros)."""
    t = np.linspace(0.0, 1.0, n)
    curve = sum(rng.normal() * np.cos(np.pi * k * t + rng.uniform(0, 2 * np.pi))
                for k in (1, 2))
    curve = curve - curve[0]
    peak = np.abs(curve).max()
    return curve / peak if peak > 0 else curve


def _draw_timing(rng: np.random.Generator, cfg: SynthConfig) -> tuple[int, int]:
    """(frames, apex index): onset phases are shorter than offset phases, as in real ones."""
    n_frames = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    apex_index = round(rng.uniform(0.3, 0.5) * (n_frames - 1))
    return n_frames, int(np.clip(apex_index, 1, max(1, n_frames - 2)))


# How far each AU of a full prototype moves against the others (1 where not listed): the jaw
# of a surprise opens the mouth further than the brows rise.
PROTOTYPE_STRENGTH = {26: 1.5, 27: 2.5, 25: 1.2}


def draw_aus(rng: np.random.Generator, emotion: Emotion, face: Face, intensity: float, *,
             prototype: bool = False) -> tuple[AuMotion, ...]:
    """One of the emotion's AU combinations (its coders', or with `prototype` one of its full
    prototypes, each AU at its own strength), with apex amplitudes scaled by `intensity` (1: a
    micro-expression, peak at most `MAX_APEX_ALIGNED_PX` aligned pixels)."""
    codes, weights = zip(*(emotion.prototypes if prototype else emotion.combinations),
                         strict=True)
    weights = np.asarray(weights, np.float64)
    code = codes[int(rng.choice(len(codes), p=weights / weights.sum()))]
    base = rng.uniform(0.5, 1.8) * intensity
    if prototype:
        aus = [AuMotion(number, side, float(base * PROTOTYPE_STRENGTH.get(number, 1.0)
                                            * rng.uniform(0.5, 1.5)))
               for number, side in parse_combination(code)]
    else:
        aus = [AuMotion(number, side, float(base * rng.uniform(0.75, 1.2)))
               for number, side in parse_combination(code)]
    # AUs acting on the same points add up; keep the clip's peak within the micro range.
    peak = _apex_peak_aligned(face, aus)
    limit = MAX_APEX_ALIGNED_PX * intensity
    if peak > limit:
        aus = [dataclasses.replace(a, amplitude=a.amplitude * limit / peak) for a in aus]
    return tuple(dataclasses.replace(a, amplitude=round(a.amplitude, 4)) for a in aus)


def _apex_peak_aligned(face: Face, aus: list[AuMotion]) -> float:
    moves = expression_displacement(face.frame, aus, 1.0)
    return float(np.linalg.norm(moves, axis=1).max())


def flicker_gain(rng: np.random.Generator, n_frames: int, fps: float, flicker: float
                 ) -> np.ndarray:
    """Illumination gain per frame: mains-like flicker at a random 1-12 Hz plus jitter."""
    flicker_hz = rng.uniform(1.0, 12.0)
    phase = rng.uniform(0, 2 * np.pi)
    t = np.arange(n_frames) / fps
    return 1.0 + flicker * (0.7 * np.sin(2 * np.pi * flicker_hz * t + phase)
                            + 0.3 * rng.uniform(-1, 1, n_frames))


def _draw_speech(rng: np.random.Generator, cfg: SynthConfig) -> Speech | None:
    # Nothing is drawn without speech, so that corpora without it stay as they were.
    if cfg.speech_probability <= 0 or rng.random() >= cfg.speech_probability:
        return None
    return Speech(rate_hz=round(float(rng.uniform(3.0, 6.0)), 3),
                  phase=round(float(rng.uniform(0, 2 * np.pi)), 4),
                  opening_px=round(float(cfg.speech_px * rng.uniform(0.25, 1.0)), 4))


def _draw_real_smile(rng: np.random.Generator, cfg: SynthConfig
                     ) -> tuple[str, tuple[AuMotion, ...]] | None:
    """Whose real smile moves a happiness clip, and its AU6+AU12 at the drawn amplitude."""
    # Nothing is drawn without real smiles, so that corpora without them stay as they were.
    if cfg.real_smiles <= 0 or rng.random() >= cfg.real_smiles:
        return None
    stills = sorted(real_smile_patterns())
    still = stills[int(rng.integers(len(stills)))]
    amplitude = round(draw_apex_amplitude(rng, cfg.intensity), 4)
    return still, (AuMotion(6, None, amplitude), AuMotion(12, None, amplitude))


def draw_apex_amplitude(rng: np.random.Generator, intensity: float) -> float:
    """The apex amplitude (aligned px) of a motion that is not the AU model's (a real smile,
    a measured field): drawn as the AU model draws its base, within the micro range."""
    return float(min(rng.uniform(0.5, 1.8), MAX_APEX_ALIGNED_PX) * intensity)


def draw_clip(rng: np.random.Generator, cfg: SynthConfig, emotion: Emotion, face: Face
              ) -> dict:
    """Everything of one clip of `emotion` on `face` but its name (ClipSpec's fields): timing,
    AUs, blink, head drift, light, noise, speech and, for happiness, whose real smile."""
    n_frames, apex_index = _draw_timing(rng, cfg)
    blink = None
    if rng.random() < cfg.blink_probability:
        blink = Blink(
            start=int(rng.integers(1, max(2, n_frames - 2))),
            close_frames=max(2, round(cfg.fps * rng.uniform(0.07, 0.12))),
            open_frames=max(2, round(cfg.fps * rng.uniform(0.12, 0.22))),
            closure=round(float(rng.uniform(0.5, 0.85)), 3),
        )
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    drift_size = cfg.drift_px * rng.uniform(0.4, 1.0)
    along, across = _smooth_curve(rng, n_frames), _smooth_curve(rng, n_frames)
    drift = (drift_size * (along[:, None] * direction + 0.3 * across[:, None]
                           * np.array([-direction[1], direction[0]])))
    gain = flicker_gain(rng, n_frames, cfg.fps, cfg.flicker)
    draft = {
        "subject": face.subject,
        "emotion": emotion.name,
        "aus": draw_aus(rng, emotion, face, cfg.intensity),
        # Recordings start the clip somewhere inside a longer take.
        "onset_frame": int(rng.integers(1, 300)),
        "n_frames": n_frames,
        "apex_index": apex_index,
        "blink": blink,
        "drift": tuple((round(float(x), 4), round(float(y), 4)) for x, y in drift),
        "gain": tuple(round(float(g), 5) for g in gain),
        "noise_seed": int(rng.integers(0, 2**31 - 1)),
        "speech": _draw_speech(rng, cfg),
    }
    # Nothing is drawn without prototypes, so that corpora without them stay as they were.
    if cfg.prototypes > 0 and emotion.prototypes and rng.random() < cfg.prototypes:
        draft["aus"] = draw_aus(rng, emotion, face, cfg.intensity, prototype=True)
    if emotion.name == "happiness":
        smile = _draw_real_smile(rng, cfg)
        if smile is not None:
            draft.update(smile=smile[0], aus=smile[1])
    return draft


def plan_corpus(cfg: SynthConfig, faces: list[Face]) -> list[ClipSpec]:
    """Draw every clip of the corpus from `cfg.seed`, sorted like the CASME II sheet."""
    rng = np.random.default_rng(cfg.seed)
    counts = _quota([e.share for e in EMOTIONS], cfg.clips)
    emotions = [e for e, count in zip(EMOTIONS, counts, strict=True) for _ in range(count)]
    emotions = [emotions[i] for i in rng.permutation(len(emotions))]
    # Every subject gets about the same number of clips; which emotions they get is random.
    chosen = chosen_faces(cfg, faces)
    subjects = [chosen[i % len(chosen)].subject for i in range(cfg.clips)]
    subjects = [subjects[i] for i in rng.permutation(len(subjects))]

    drafts: dict[int, list[dict]] = {}
    for emotion, subject in zip(emotions, subjects, strict=True):
        drafts.setdefault(subject, []).append(
            draw_clip(rng, cfg, emotion, faces[subject - 1]))

    specs = []
    for subject in sorted(drafts):
        clips = drafts[subject]
        # CASME II names clips EPxx_yy[f]: elicitation episode and take; unique per subject.
        episodes = np.sort(rng.choice(np.arange(1, max(20, len(clips) + 1)), len(clips),
                                      replace=False))
        for draft, episode in zip(clips, episodes, strict=True):
            take = int(rng.integers(1, 6))
            suffix = "f" if rng.random() < 0.5 else ""
            specs.append(ClipSpec(filename=f"EP{episode:02d}_{take:02d}{suffix}", **draft))
    return specs


# ------------------------------------------------------------------------------ rendering ---


def expression_profile(n_frames: int, apex_index: int) -> np.ndarray:
    """Raised-cosine rise from 0 at onset to 1 at apex, fall back to 0 at offset."""
    i = np.arange(n_frames, dtype=np.float64)
    rise = 0.5 * (1 - np.cos(np.pi * np.clip(i / max(apex_index, 1), 0, 1)))
    fall_len = max(n_frames - 1 - apex_index, 1)
    fall = 0.5 * (1 + np.cos(np.pi * np.clip((i - apex_index) / fall_len, 0, 1)))
    return np.where(i <= apex_index, rise, fall)


def blink_field(face: Face, closure: float) -> np.ndarray:
    """Dense displacement of a blink closing the eyes by `closure` of their opening."""
    frame = face.frame
    return thin_plate_field(control_points(frame), blink_displacement(frame, closure),
                            face.image.shape[:2],
                            min_separation=MERGE_SEPARATION_IOD * frame.interocular)


def speech_field(face: Face, speech: Speech) -> np.ndarray:
    """Dense displacement of the mouth at its widest opening in `speech`."""
    frame = face.frame
    moves = speech_displacement(frame) * (speech.opening_px * face.pixels_per_aligned_pixel)
    return thin_plate_field(control_points(frame), moves, face.image.shape[:2],
                            min_separation=MERGE_SEPARATION_IOD * frame.interocular)


def speech_profile(n_frames: int, fps: float, speech: Speech | None) -> np.ndarray:
    """Mouth opening over the clip, 0 (closed) to 1 (widest), one cycle per syllable."""
    if speech is None:
        return np.zeros(n_frames)
    t = np.arange(n_frames, dtype=np.float64) / fps
    return 0.5 * (1 - np.cos(2 * np.pi * speech.rate_hz * t + speech.phase))


def blink_profile(n_frames: int, blink: Blink | None) -> np.ndarray:
    """Lid closure over the clip: fast fall, slower rise (a blink may run past the clip)."""
    if blink is None:
        return np.zeros(n_frames)
    i = np.arange(n_frames, dtype=np.float64) - blink.start
    closing = 0.5 * (1 - np.cos(np.pi * np.clip(i / blink.close_frames, 0, 1)))
    opening = 0.5 * (1 + np.cos(np.pi * np.clip((i - blink.close_frames) / blink.open_frames,
                                                0, 1)))
    return np.where(i < 0, 0.0, np.where(i <= blink.close_frames, closing, opening))


_NOISE_BANKS: dict[tuple[int, ...], np.ndarray] = {}


def noise_bank(shape: tuple[int, ...]) -> np.ndarray:
    """Unit Gaussian noise twice the frame's size, drawn once per process from a fixed seed.

    Drawing fresh normals for every frame costs more than warping it; a random window of this
    bank is just as white and just as Gaussian, and two frames share noise only if their
    windows coincide (one chance in H×W).
    """
    key = tuple(shape)
    if key not in _NOISE_BANKS:
        height, width = shape[:2]
        rng = np.random.default_rng(20140508)
        _NOISE_BANKS[key] = rng.standard_normal((2 * height, 2 * width, *shape[2:]),
                                                dtype=np.float32)
    return _NOISE_BANKS[key]


def camera_frame(warped: np.ndarray, gain: float, noise_sigma: float, rng: np.random.Generator
                 ) -> np.ndarray:
    """A warped frame as the camera records it: illumination gain, then sensor noise."""
    height, width = warped.shape[:2]
    pixels = warped.astype(np.float32)
    pixels *= np.float32(gain)
    if noise_sigma > 0:
        # A random window of the bank: white Gaussian noise, new in every frame.
        top, left = rng.integers(0, height), rng.integers(0, width)
        pixels += noise_bank(warped.shape)[top:top + height, left:left + width] * np.float32(
            noise_sigma)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


@dataclass
class ExpressionField:
    """The dense apex displacement of a set of AUs on one face, held within a peak."""

    field: np.ndarray  # (H, W, 2) float32, frame pixels
    moves: np.ndarray  # control-point displacement, frame pixels
    aus: list[AuMotion]  # amplitudes as rendered (shrunk with the field)
    peak_px: float  # largest displacement of any pixel, frame pixels


def expression_field(face: Face, aus: list[AuMotion], limit_aligned_px: float, *,
                     smile: str | None = None) -> ExpressionField:
    """The apex field of `aus` on `face`, scaled down if any pixel would move further than
    `limit_aligned_px` aligned pixels. With `smile`, the motion is that person's real smile,
    its most-moved point moving as far as the largest of `aus`."""
    frame = face.frame
    if smile is None:
        moves = expression_displacement(frame, aus, face.pixels_per_aligned_pixel)
    else:
        peak = max(a.amplitude for a in aus) * face.pixels_per_aligned_pixel
        moves = real_smile_moves(frame, real_smile_patterns()[smile], peak)
    field = thin_plate_field(control_points(frame), moves, face.image.shape[:2],
                             min_separation=MERGE_SEPARATION_IOD * frame.interocular)
    # The dense field can exceed its control points a little where close points move apart.
    limit = limit_aligned_px * face.pixels_per_aligned_pixel
    peak = float(np.linalg.norm(field, axis=2).max())
    if peak > limit:
        shrink = limit / peak
        field *= np.float32(shrink)
        moves = moves * shrink
        aus = [dataclasses.replace(a, amplitude=round(a.amplitude * shrink, 4)) for a in aus]
        peak = float(np.linalg.norm(field, axis=2).max())
    return ExpressionField(field, moves, list(aus), peak)


@dataclass
class RenderedClip:
    frames: list[np.ndarray]  # RGB uint8, before JPEG compression
    truth: dict


def render_clip(spec: ClipSpec, face: Face, cfg: SynthConfig, *,
                apex: ExpressionField | None = None) -> RenderedClip:
    """The clip's frames (RGB, before JPEG) and its ground truth. `apex`: the expression's
    apex field when it comes from elsewhere (a measured real one); else drawn from spec.aus."""
    frame = face.frame
    if apex is None:  # held within the micro range
        apex = expression_field(face, list(spec.aus), MAX_APEX_ALIGNED_PX * cfg.intensity,
                                smile=spec.smile)
    aus, moves, field_peak = apex.aus, apex.moves, apex.peak_px
    fields = [(expression_profile(spec.n_frames, spec.apex_index), apex.field)]
    if spec.blink is not None:
        fields.append((blink_profile(spec.n_frames, spec.blink),
                       blink_field(face, spec.blink.closure)))
    if spec.speech is not None:
        fields.append((speech_profile(spec.n_frames, cfg.fps, spec.speech),
                       speech_field(face, spec.speech)))

    warper = Warper(face.image)
    rng = np.random.default_rng(spec.noise_seed)
    frames = []
    for i in range(spec.n_frames):
        warped = warper.warp([(float(profile[i]), field) for profile, field in fields],
                             spec.drift[i])
        frames.append(camera_frame(warped, spec.gain[i], cfg.noise_sigma, rng))

    point_peak = float(np.linalg.norm(moves, axis=1).max())
    ppa = face.pixels_per_aligned_pixel
    truth = {
        "subject": spec.subject,
        "filename": spec.filename,
        "emotion": spec.emotion,
        "action_units": [dataclasses.asdict(a) for a in aus],
        "au_cell": str(au_cell(spec.aus)),
        "onset_frame": spec.onset_frame,
        "apex_frame": spec.apex_frame,
        "offset_frame": spec.offset_frame,
        "frames": spec.n_frames,
        # Peak of the dense apex field: the largest movement of any pixel.
        "apex_displacement_px": round(field_peak, 4),
        "apex_displacement_aligned_px": round(field_peak / ppa, 4),
        "apex_control_point_peak_px": round(point_peak, 4),
        "interocular_px": round(frame.interocular, 3),
        "pixels_per_aligned_pixel": round(face.pixels_per_aligned_pixel, 4),
        "blink": dataclasses.asdict(spec.blink) if spec.blink else None,
        "drift_peak_px": round(float(np.linalg.norm(np.asarray(spec.drift), axis=1).max()), 4),
        "gain_range": [min(spec.gain), max(spec.gain)],
        "still": face.still,
    }
    if spec.speech is not None:  # absent otherwise: corpora without speech stay as they were
        truth["speech"] = dataclasses.asdict(spec.speech)
    if spec.smile is not None:  # likewise
        truth["real_smile_of"] = spec.smile
    return RenderedClip(frames, truth)


def clip_dir(root: Path, spec: ClipSpec) -> Path:
    return root / FRAMES_DIR / f"sub{spec.subject:02d}" / spec.filename


def encode_jpeg(frame: np.ndarray, quality: int, *, grey: bool = False) -> bytes:
    """RGB frame -> JPEG bytes; `grey` writes one channel (as SAMM's grey camera does)."""
    image = frame[..., 0] if grey else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def write_clip(root: Path, spec: ClipSpec, face: Face, cfg: SynthConfig, *,
               apex: ExpressionField | None = None) -> dict:
    """Render the clip (`render_clip`) into its frame folder under `root`; its truth."""
    rendered = render_clip(spec, face, cfg, apex=apex)
    folder = clip_dir(root, spec)
    folder.mkdir(parents=True, exist_ok=True)
    layout = SYNTH_RESOLUTIONS.get(cfg.resolution)
    grey = layout is not None and layout.grey
    for i, frame in enumerate(rendered.frames):
        (folder / f"img{spec.onset_frame + i}.jpg").write_bytes(
            encode_jpeg(frame, cfg.jpeg_quality, grey=grey))
    return rendered.truth


# Per-process state of the worker pool: the faces, loaded once per worker.
_worker_faces: list[Face] = []
_worker_cfg: SynthConfig | None = None


def _init_worker(cfg: SynthConfig) -> None:
    global _worker_faces, _worker_cfg
    # One thread per worker: the pool already uses the cores.
    cv2.setNumThreads(1)
    _worker_faces = load_corpus_faces(cfg)
    _worker_cfg = cfg


def _render_task(task: tuple[str, ClipSpec]) -> dict:
    root, spec = task
    assert _worker_cfg is not None
    return write_clip(Path(root), spec, _worker_faces[spec.subject - 1], _worker_cfg)


# ---------------------------------------------------------------------------------- sheet ---


def write_sheet(path: Path, specs: list[ClipSpec]) -> None:
    """The coding sheet in the CASME II 2014 format, byte-identical for identical specs."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    sheet.append(list(SHEET_HEADER))
    for spec in specs:
        sheet.append([spec.subject, spec.filename, None, spec.onset_frame, spec.apex_frame,
                      spec.offset_frame, None, au_cell(spec.aus), spec.emotion])
    save_workbook(workbook, path)


def save_workbook(workbook: Workbook, path: Path) -> None:
    """Save an openpyxl workbook with fixed timestamps: identical content, identical bytes."""
    from openpyxl.xml.functions import tostring

    workbook.properties.creator = "attrmer"
    workbook.properties.created = SHEET_TIMESTAMP
    workbook.properties.modified = SHEET_TIMESTAMP
    buffer = io.BytesIO()
    workbook.save(buffer)
    # Saving stamps the current time into docProps/core.xml and into every zip entry: rewrite
    # both with fixed values.
    workbook.properties.modified = SHEET_TIMESTAMP
    core_xml = tostring(workbook.properties.to_tree())
    output = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(output, "w") as target:
        for name in source.namelist():
            data = core_xml if name == "docProps/core.xml" else source.read(name)
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)
    path.write_bytes(output.getvalue())


# --------------------------------------------------------------------------------- corpus ---


def default_workers() -> int:
    return max(1, min(2, available_cpus()))


def render_corpus(out_dir: Path, cfg: SynthConfig, *, workers: int | None = None,
                  contact_clips: int = 3, progress: bool = True, force: bool = False) -> Path:
    """Render the synthetic corpus into `out_dir` (replaced whole, atomically); return it.

    workers: processes rendering clips (None: up to 2; 1: in this process).
    contact_clips: clips per emotion shown on each contact sheet.
    force: replace `out_dir` even when it holds files attrmer did not write (otherwise
    FolderNotOwnedError, before anything is rendered).
    """
    from attrmer.synth.contact import write_contact_sheets

    cfg.validate()
    out_dir = Path(out_dir)
    faces = load_corpus_faces(cfg)
    specs = plan_corpus(cfg, faces)
    workers = default_workers() if workers is None else max(1, workers)
    with owned_folder(out_dir, command="attrmer synth", force=force,
                      own_names=CORPUS_ENTRIES) as tmp:
        # Closed however the block ends, so that a message after it starts a line of its own.
        with tqdm(total=len(specs), desc="synth: rendering clips", unit="clip",
                  disable=not progress) as bar:
            truths = []
            if workers == 1 or len(specs) == 1:
                for spec in specs:
                    truths.append(write_clip(tmp, spec, faces[spec.subject - 1], cfg))
                    bar.update()
            else:
                context = multiprocessing.get_context("spawn")
                with context.Pool(workers, initializer=_init_worker, initargs=(cfg,)) as pool:
                    for truth in pool.imap(_render_task, [(str(tmp), s) for s in specs]):
                        truths.append(truth)
                        bar.update()
        write_sheet(tmp / SHEET_NAME, specs)
        corpus = {
            "format": f"CASME II 2014 coding sheet + {FRAMES_DIR}/subXX/<Filename>/img<N>.jpg",
            "sheet": SHEET_NAME,
            # Settings added since the built-in corpus was first drawn only when they differ
            # from their defaults: its record stays as it was.
            "parameters": {k: v for k, v in dataclasses.asdict(cfg).items()
                           if k not in LATER_SETTINGS or v != LATER_SETTINGS[k]},
            "aligned_size": ALIGNED_SIZE,
            "notes": {
                "sides": "L/R are the subject's own left/right; the subject's left is the "
                         "image's right",
                "blinks": "AU45 blinks are independent of the emotion and are not written "
                          "into the sheet's AU cell; see each clip's 'blink'",
                "apex_displacement_aligned_px": "largest displacement of any pixel at apex, "
                                                "in pixels of the 112×112 aligned face",
            },
            "subjects": [{"subject": f.subject, "still": f.still,
                          "interocular_px": round(f.frame.interocular, 3)}
                         for f in chosen_faces(cfg, faces)],
            "emotion_counts": _counts(s.emotion for s in specs),
            "clips": truths,
        }
        (tmp / CORPUS_JSON).write_text(json.dumps(corpus, indent=1) + "\n")
        truth_by_clip = {(t["subject"], t["filename"]): t["apex_displacement_aligned_px"]
                         for t in truths}
        write_contact_sheets(tmp, specs, clips_per_emotion=contact_clips,
                             apex_aligned_px=truth_by_clip)
    return out_dir


def _counts(names) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
