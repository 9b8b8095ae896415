"""Spot-then-recognise: how well the expressions spotted in long videos are also classified.

Since MEGC 2023 the challenge scores spotting and recognition together on long videos, with the
spot-then-recognise score (STRS) of Liong, See & Chan, "Spot-then-recognize: A micro-expression
analysis network for seamless evaluation of long videos", Signal Processing: Image
Communication 110 (2023) 116875, computed by the challenge's published scoring tool:

- Spotting: a spotted interval is a true positive when its IoU with an annotated interval is at
  least 0.5 (`attrmer.spot.evaluate`); F1_spot over every annotated interval.
- Analysis: only the spotting true positives are classified. For each of the analysis classes
  (MEGC's three: negative, positive, surprise; an annotation of any other class, "others", is
  spotted but not analysed), precision and recall one class against the rest; their means over
  the classes, P̄ and R̄, give F1_analysis = 2 P̄ R̄ / (P̄ + R̄).
- STRS = F1_spot × F1_analysis.

Here the spotting counts are attrmer's own (`attrmer.spot.run.score_spotting`): types kept apart
(a spotted micro-expression matches an annotated micro-expression), a maximum matching, and
every annotation that could not be read or whose video failed counted as missed. STRS is given
per type and overall (both types' spotting counts pooled, both types' analysed pairs together).
Where the published tool differs, attrmer keeps to the definitions: a class that every analysed
pair has both as truth and as answer scores 1, not 0; UAR is the mean recall (the tool reports
the mean precision under that name); a sum P̄ + R̄ of 0 gives 0, not a division error. As in
the tool, a class absent from the analysed pairs (neither truth nor answer) counts with
precision and recall 0: with few expressions of one type, F1_analysis is bounded by the share of
the three classes that occur.

Beside STRS, `joint` is the one-step reading of the same protocol: a spotted interval counts when
it matches an annotated one *and* its class is right; precision, recall and F1 of that over the
spotted intervals and the annotations of the analysis classes (those matched to an annotation of
another class, and such annotations, are left out).

Classes: an annotation's class comes from the sheet's objective class (CAS(ME)^3 writes no
emotion in part A): I happiness -> positive, II surprise -> surprise, III-VI (anger, disgust,
sadness, fear) -> negative, VII others. A model's answer is mapped by emotion name: happiness
-> positive, surprise -> surprise, the negative emotions of every dataset -> negative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attrmer.spot.evaluate import SpottingCounts, match_intervals
from attrmer.spot.intervals import KINDS, Interval

MEGC_CLASSES = ("negative", "positive", "surprise")
# The objective classes of Davison et al. (2018) as CAS(ME)^3's sheets write them.
OBJECTIVE_TO_MEGC = {"I": "positive", "II": "surprise", "III": "negative", "IV": "negative",
                     "V": "negative", "VI": "negative"}
# Emotion names of every dataset's sheet (and MEGC's own three) -> MEGC class.
EMOTION_TO_MEGC = {
    **{name: "negative" for name in ("negative", "disgust", "repression", "sadness", "sad",
                                     "fear", "anger", "contempt")},
    **{name: "positive" for name in ("positive", "happiness", "happy")},
    "surprise": "surprise",
}
_DECIMALS = 6


def megc_class_of_emotion(emotion: str) -> str | None:
    """An emotion's MEGC class; None for one outside the three (others)."""
    return EMOTION_TO_MEGC.get(str(emotion).strip().lower())


def megc_class_of_objective(objective_class: str) -> str | None:
    """An objective class's MEGC class (I..VI); None for VII (others) or an unknown cell."""
    return OBJECTIVE_TO_MEGC.get(str(objective_class).strip().upper())


@dataclass(frozen=True)
class Labelled:
    """An interval and its MEGC class (None: others, not analysed)."""

    interval: Interval
    megc_class: str | None


def analysis_scores(pairs: Sequence[tuple[str, str | None]],
                    classes: Sequence[str] = MEGC_CLASSES) -> dict[str, Any]:
    """F1_analysis and its parts from (truth class, answer class) pairs, truth in `classes`
    (an answer outside them is wrong for its truth and a false positive for no class)."""
    per_class = {}
    for name in classes:
        tp = sum(1 for truth, answer in pairs if truth == name and answer == name)
        fp = sum(1 for truth, answer in pairs if truth != name and answer == name)
        fn = sum(1 for truth, answer in pairs if truth == name and answer != name)
        counts = SpottingCounts(tp=tp, fp=fp, fn=fn)
        per_class[name] = {"tp": tp, "fp": fp, "fn": fn,
                           "precision": counts.precision, "recall": counts.recall,
                           "f1": counts.f1}
    mean_p = sum(c["precision"] for c in per_class.values()) / len(classes)
    mean_r = sum(c["recall"] for c in per_class.values()) / len(classes)
    f1 = 2 * mean_p * mean_r / (mean_p + mean_r) if mean_p + mean_r else 0.0
    return {
        "pairs": len(pairs),
        "right": sum(1 for truth, answer in pairs if truth == answer),
        "precision": _round(mean_p), "recall": _round(mean_r), "f1": _round(f1),
        "uf1": _round(sum(c["f1"] for c in per_class.values()) / len(classes)),
        "uar": _round(mean_r),
        "per_class": {name: {k: _round(v) if isinstance(v, float) else v
                             for k, v in c.items()} for name, c in per_class.items()},
    }


def score_strs(truth: Mapping[str, Sequence[Labelled]],
               spotted: Mapping[str, Sequence[Labelled]],
               spotting: Mapping[str, Mapping[str, Any]], *, iou: float,
               classes: Sequence[str] = MEGC_CLASSES) -> dict[str, Any]:
    """STRS per type and overall, and the joint F1, as the `strs` entry of
    metrics/spotting.json.

    `truth`: every spotted-or-not video's annotated intervals with classes; `spotted`: the
    recognised intervals of the videos spotted; `spotting`: the spotting figures per type and
    "overall" (`score_spotting`'s, with every miss counted), whose F1 is F1_spot.
    """
    pairs: dict[str, list[tuple[str, str | None]]] = {kind: [] for kind in KINDS}
    joint = {kind: {"right": 0, "spotted": 0, "truth": 0} for kind in KINDS}
    for video, annotated in truth.items():
        found = list(spotted.get(video, ()))
        matched = match_intervals([a.interval for a in annotated], [s.interval for s in found],
                                  iou_threshold=iou)
        other_matches = set()
        for i, j in matched:
            kind = annotated[i].interval.kind
            if annotated[i].megc_class not in classes:
                other_matches.add(j)
                continue
            pairs[kind].append((annotated[i].megc_class, found[j].megc_class))
            joint[kind]["right"] += annotated[i].megc_class == found[j].megc_class
        for kind in KINDS:
            joint[kind]["truth"] += sum(1 for a in annotated if a.interval.kind == kind
                                        and a.megc_class in classes)
            joint[kind]["spotted"] += sum(1 for j, s in enumerate(found)
                                          if s.interval.kind == kind and j not in other_matches)
    result: dict[str, Any] = {"iou": iou, "classes": list(classes)}
    for kind, kind_pairs, kind_joint in (
            *((k, pairs[k], [joint[k]]) for k in KINDS),
            ("overall", pairs["micro"] + pairs["macro"], list(joint.values()))):
        analysis = analysis_scores(kind_pairs, classes)
        f1_spot = float(spotting[kind]["f1"])
        result[kind] = {
            "strs": _round(f1_spot * analysis["f1"]),
            "f1_spot": _round(f1_spot),
            "f1_analysis": analysis["f1"],
            "analysis": analysis,
            "joint": _joint(kind_joint),
        }
    return result


def _joint(parts: Sequence[Mapping[str, int]]) -> dict[str, Any]:
    right = sum(p["right"] for p in parts)
    counts = SpottingCounts(tp=right, fp=sum(p["spotted"] for p in parts) - right,
                            fn=sum(p["truth"] for p in parts) - right)
    return counts.as_dict()


def _round(value: float) -> float:
    return round(float(value), _DECIMALS)
