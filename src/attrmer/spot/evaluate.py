"""The MEGC spotting metric: how well spotted intervals find the annotated ones in long videos.

As the Micro-Expression Grand Challenges (MEGC 2019-2022) define it:

- A spotted interval is a true positive (TP) when its IoU (`attrmer.spot.intervals.iou`, over
  inclusive frame ranges) with a ground-truth interval of the same video and the same kind
  (micro or macro) is at least `iou_threshold`, 0.5. Each ground truth is matched at most once,
  and so is each spotted interval: a second spotted interval on an already found expression is
  a false positive (FP); ground truth left unmatched is a false negative (FN).
- Per kind: precision P = TP / (TP + FP), recall R = TP / (TP + FN), F1 = 2PR / (P + R).
- Overall: the TP, FP and FN of both kinds summed, then the same three formulas (pooled counts,
  not the mean of the two F1 scores).
- A ratio whose denominator is 0 is 0.0, as in the challenge's evaluation scripts: precision
  when nothing was spotted, recall when there is nothing to find, F1 when P + R = 0. The counts
  beside the ratios tell such a case from a poor spotter.

Matching rule: within a video and a kind, the pairs with IoU >= threshold form a bipartite graph,
and the matching taken is one with the most pairs (augmenting paths, each ground truth trying its
candidates by descending IoU). The challenge's scripts count a ground truth as found when any
spotted interval reaches the threshold; a maximum matching gives that count whenever one spotted
interval is not needed for two expressions. Greedy matching by descending IoU can give fewer: a
spotted interval may take the truth it overlaps best and leave its second truth, which only it
could match, missed, so its TP count would depend on an accident of overlap.

Not here: spotting (`attrmer.spot`), reading the annotations (`attrmer.datasets.casme3_lv`),
writing the metrics file (the caller dumps the returned dict as metrics/spotting.json).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attrmer.errors import AttrmerError
from attrmer.spot.intervals import KINDS, Interval, iou

IOU_THRESHOLD = 0.5
# Decimals of the ratios in the returned dicts.
_DECIMALS = 6
# How many unknown video keys an error lists.
_LISTED_VIDEOS = 3


class SpottingEvaluationError(AttrmerError, ValueError):
    """Spotted intervals and ground truth cannot be compared; the message names the problem."""


@dataclass(frozen=True)
class SpottingCounts:
    """True positives, false positives and false negatives, and the ratios they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def truth(self) -> int:
        return self.tp + self.fn

    @property
    def spotted(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float:
        return self.tp / self.spotted if self.spotted else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: SpottingCounts) -> SpottingCounts:
        return SpottingCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "precision": round(self.precision, _DECIMALS),
            "recall": round(self.recall, _DECIMALS),
            "f1": round(self.f1, _DECIMALS),
            "truth": self.truth, "spotted": self.spotted,
        }


def match_intervals(
    truth: Sequence[Interval], spotted: Sequence[Interval], *,
    iou_threshold: float = IOU_THRESHOLD,
) -> list[tuple[int, int]]:
    """The matched pairs (index into `truth`, index into `spotted`) of one video, sorted: a
    maximum set of pairs of the same kind with IoU >= `iou_threshold`, each interval in at most
    one pair."""
    _check_threshold(iou_threshold)
    candidates = []
    for t in truth:
        overlaps = [(iou(t, s), j) for j, s in enumerate(spotted) if s.kind == t.kind]
        candidates.append([j for value, j in sorted(overlaps, key=lambda o: (-o[0], o[1]))
                           if value >= iou_threshold])
    holder: dict[int, int] = {}  # spotted index -> the truth index it is matched to

    def augment(i: int, visited: set[int]) -> bool:
        # Take a free candidate, or one whose truth can move to another of its candidates.
        for j in candidates[i]:
            if j in visited:
                continue
            visited.add(j)
            if j not in holder or augment(holder[j], visited):
                holder[j] = i
                return True
        return False

    for i in range(len(truth)):
        augment(i, set())
    return sorted((i, j) for j, i in holder.items())


def video_counts(
    truth: Sequence[Interval], spotted: Sequence[Interval], *,
    iou_threshold: float = IOU_THRESHOLD,
) -> dict[str, SpottingCounts]:
    """{kind: counts} of one video, for each kind in `attrmer.spot.intervals.KINDS`."""
    pairs = match_intervals(truth, spotted, iou_threshold=iou_threshold)
    counts = {}
    for kind in KINDS:
        tp = sum(1 for i, _ in pairs if truth[i].kind == kind)
        counts[kind] = SpottingCounts(
            tp=tp,
            fp=sum(1 for s in spotted if s.kind == kind) - tp,
            fn=sum(1 for t in truth if t.kind == kind) - tp,
        )
    return counts


def evaluate_spotting(
    truth: Mapping[str, Sequence[Interval]], spotted: Mapping[str, Sequence[Interval]], *,
    iou_threshold: float = IOU_THRESHOLD,
) -> dict[str, Any]:
    """The metric over all videos of `truth` ({video key: intervals}), as a dict to dump as
    JSON: {"iou", "micro", "macro", "overall", "videos"}, each kind's entry (and "overall")
    holding tp, fp, fn, precision, recall, f1, truth and spotted.

    A video of `truth` missing from `spotted` had nothing spotted (its expressions count as
    missed); a video in `spotted` but not in `truth` is an error, most likely keys of another
    index.
    """
    totals = {kind: SpottingCounts() for kind in KINDS}
    for row in _video_rows(truth, spotted, iou_threshold):
        totals[row["kind"]] += row["counts"]
    overall = sum(totals.values(), SpottingCounts())
    return {
        "iou": iou_threshold,
        **{kind: counts.as_dict() for kind, counts in totals.items()},
        "overall": overall.as_dict(),
        "videos": len(truth),
    }


def per_video(
    truth: Mapping[str, Sequence[Interval]], spotted: Mapping[str, Sequence[Interval]], *,
    iou_threshold: float = IOU_THRESHOLD,
) -> list[dict[str, Any]]:
    """One row per video of `truth` and kind: {"video", "kind", tp, fp, fn, precision, recall,
    f1, truth, spotted}, in the order of `truth` (a table to find where a spotter fails)."""
    return [{"video": row["video"], "kind": row["kind"], **row["counts"].as_dict()}
            for row in _video_rows(truth, spotted, iou_threshold)]


def _video_rows(truth: Mapping[str, Sequence[Interval]],
                spotted: Mapping[str, Sequence[Interval]],
                iou_threshold: float) -> list[dict[str, Any]]:
    _check_threshold(iou_threshold)
    unknown = [key for key in spotted if key not in truth]
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:_LISTED_VIDEOS])
        more = f" and {len(unknown) - _LISTED_VIDEOS} more" if len(unknown) > _LISTED_VIDEOS else ""
        raise SpottingEvaluationError(
            f"spotted intervals for {len(unknown)} videos without ground truth ({shown}{more}); "
            "spot the videos of the index the ground truth comes from"
        )
    rows = []
    for video, intervals in truth.items():
        counts = video_counts(intervals, spotted.get(video, ()), iou_threshold=iou_threshold)
        rows += [{"video": video, "kind": kind, "counts": c} for kind, c in counts.items()]
    return rows


def _check_threshold(iou_threshold: float) -> None:
    if not 0 < iou_threshold <= 1:
        raise SpottingEvaluationError(
            f"spotting IoU threshold {iou_threshold} is outside (0, 1]")
