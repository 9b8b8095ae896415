"""When not to trust a prediction: the reasons `attrmer predict` marks a clip `uncertain`.

- the models of the ensemble (a run's seeds) disagree: fewer than `MIN_AGREEMENT` of them
  give the ensemble's answer;
- the clip moves far more, or far less, than any clip the model was trained on (its
  `motion_level` against the training range recorded in the model directory): a 10 px smile
  shown to a model of 0.5 px micro-expressions is outside what it learnt, whatever it says;
- no class is likely: the top calibrated probability is below `MIN_PROBABILITY`;
- the clip is too short to hold an onset, an apex and an offset (`MIN_FRAMES`);
- the mouth opens and closes again and again (`mouth_cycles`): speech, or laughter or sobbing,
  which no micro-expression does (one onset, one apex, one offset) and the model never saw.
In an ensemble the motion check asks every model about its own training range and counts
against the answer when most of them find the clip outside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from attrmer.evaluate.calibration import apply_temperature

if TYPE_CHECKING:
    from attrmer.modelfile import ModelBundle
    from attrmer.predict.predictor import PreparedClip

MIN_AGREEMENT = 0.8  # 4 of 5 seeds
MOTION_TOLERANCE = 2.0  # times beyond the training range, either way
MIN_PROBABILITY = 0.5
MIN_FRAMES = 5  # a micro-expression lasts at least ~1/6 s: 5 frames at 30 fps
# Two full openings and closings of the jaw: a micro-expression has one apex, speech one per
# syllable. An opening counts from the jaw drop that spotting takes for a syllable
# (spot.speech_jaw_drop, 1.5 px of the 112 px aligned face).
SPEECH_CYCLES = 2


@dataclass(frozen=True)
class Confidence:
    """The clip's motion level (pixels at the network's input size) and the reasons, if any,
    not to trust its prediction."""

    motion: float
    reasons: tuple[str, ...] = ()


def mouth_cycles(aligned: np.ndarray) -> int:
    """How often the jaw opens and closes again in aligned frames ((n, S, S, 3) RGB uint8):
    the chin's vertical track (`attrmer.spot.tracking`) read as a zigzag whose legs are at
    least spot.speech_jaw_drop pixels long (of the 112 px face), two legs a cycle. A smile
    or a laugh that opens the mouth once and holds it is one leg, none a cycle."""
    from attrmer.config import SpotConfig
    from attrmer.spot.regions import CHIN
    from attrmer.spot.tracking import track_aligned

    if len(aligned) < 3:
        return 0
    cfg = SpotConfig()
    step = cfg.speech_jaw_drop
    chin = track_aligned(aligned, cfg=cfg).positions[:, CHIN, 1].astype(np.float64)
    # direction: 0 before the first leg (lowest and highest so far), +1 on a rising leg, -1 on
    # a falling one (`extreme`: the leg's furthest point so far).
    legs, direction, low, high = 0, 0, chin[0], chin[0]
    extreme = chin[0]
    for value in chin[1:]:
        if direction == 0:
            low, high = min(low, value), max(high, value)
            if value - low >= step or high - value >= step:
                legs, direction, extreme = 1, 1 if value - low >= step else -1, value
        elif direction * (value - extreme) > 0:
            extreme = value
        elif direction * (extreme - value) >= step:
            legs, direction, extreme = legs + 1, -direction, value
    return legs // 2


def calibrated(probabilities: np.ndarray, calibration: Mapping[str, Any] | None) -> np.ndarray:
    """Probabilities scaled by the model's validation temperature (unchanged without one)."""
    temperature = float((calibration or {}).get("temperature", 1.0))
    if temperature == 1.0:
        return probabilities
    return apply_temperature(probabilities, temperature)


def clip_motion(clip: PreparedClip, bundle: ModelBundle) -> float:
    """`motion_level` of the clip's flow at the model's input size, in pixels."""
    import torch

    from attrmer.model.inputs import motion_levels

    flow = torch.from_numpy(clip.flow[None])
    return float(motion_levels(flow, bundle.flow, bundle.model.input_size)[0])


def motion_reason(motion: float, trained: Mapping[str, float] | None) -> str | None:
    if not trained or "max" not in trained or "min" not in trained:
        return None
    if motion > MOTION_TOLERANCE * trained["max"]:
        return (f"the face moves {motion / trained['max']:.1f}x more than in any training clip "
                f"({motion:.2f} px against at most {trained['max']:.2f} px): a "
                "macro-expression, speech or head movement is outside what the model learnt")
    if motion < trained["min"] / MOTION_TOLERANCE:
        return (f"the face barely moves ({motion:.2f} px against at least "
                f"{trained['min']:.2f} px in training): there may be no expression")
    return None


def assess(clip: PreparedClip, bundles: Sequence[ModelBundle],
           probabilities: Mapping[str, float], votes: Mapping[str, int],
           label: str) -> Confidence:
    """The reasons not to trust `label` for `clip` (see the module); `motion` is the clip's
    level as the first model measures it."""
    reasons = []
    models = sum(votes.values())
    if models > 1 and votes.get(label, 0) / models < MIN_AGREEMENT:
        spread = ", ".join(f"{n} {name}" for name, n in votes.items())
        reasons.append(f"the {models} models disagree ({spread})")
    # Models that prepare the flow alike measure the same motion: once per distinct setting.
    measured: dict[tuple, float] = {}
    motions = []
    for bundle in bundles:
        setting = (bundle.model.input_size, bundle.flow.head_motion, bundle.flow.region)
        if setting not in measured:
            measured[setting] = clip_motion(clip, bundle)
        motions.append(measured[setting])
    outside = [r for r in (motion_reason(m, b.info.get("motion"))
                           for m, b in zip(motions, bundles, strict=True)) if r]
    if len(outside) * 2 > len(bundles):
        reasons.append(outside[0])
    motion = motions[0]
    top = max(probabilities.values())
    if top < MIN_PROBABILITY:
        reasons.append(f"no class is likely (the most probable, {label}, has {top:.2f})")
    if clip.mouth_cycles >= SPEECH_CYCLES:
        reasons.append(f"the mouth opens and closes {clip.mouth_cycles} times, as in speech, "
                       "laughter or sobbing: a micro-expression model has not learnt those")
    if clip.face_lost_at is not None:
        reasons.append(f"the face leaves the shot {clip.face_lost_at - 1} frames into the "
                       f"{clip.frames} classified: the frames after it show no face")
    if clip.frames < MIN_FRAMES:
        reasons.append(f"only {clip.frames} frames: too short to show an expression's onset, "
                       "apex and offset")
    return Confidence(motion=motion, reasons=tuple(reasons))
