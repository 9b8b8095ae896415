"""The MEGC spotting metric on hand-checked cases."""

from __future__ import annotations

import json

import pytest

from attrmer.spot.evaluate import (
    SpottingCounts,
    SpottingEvaluationError,
    evaluate_spotting,
    match_intervals,
    per_video,
    video_counts,
)
from attrmer.spot.intervals import Interval, iou


def micro(onset: int, offset: int) -> Interval:
    return Interval(onset=onset, apex=onset, offset=offset, kind="micro")


def macro(onset: int, offset: int) -> Interval:
    return Interval(onset=onset, apex=onset, offset=offset, kind="macro")


def test_exact_match_is_one_true_positive():
    result = evaluate_spotting({"v": [micro(10, 20)]}, {"v": [micro(10, 20)]})
    assert result["micro"] == {"tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0,
                               "f1": 1.0, "truth": 1, "spotted": 1}
    assert result["macro"]["truth"] == result["macro"]["spotted"] == 0
    assert result["overall"]["f1"] == 1.0
    assert result["iou"] == 0.5 and result["videos"] == 1


@pytest.mark.parametrize(("offset", "expected_iou", "tp"), [
    (201, 100 / 201, 0),  # 0.4975: just below
    (200, 0.5, 1),  # exactly 0.5 counts
    (199, 100 / 199, 1),  # 0.5025: just above
])
def test_iou_threshold_is_inclusive(offset, expected_iou, tp):
    truth, spotted = macro(1, 100), macro(1, offset)
    assert iou(truth, spotted) == pytest.approx(expected_iou)
    counts = video_counts([truth], [spotted])["macro"]
    assert (counts.tp, counts.fp, counts.fn) == (tp, 1 - tp, 1 - tp)


def test_two_spotted_on_one_truth_are_one_tp_and_one_fp():
    counts = video_counts([micro(1, 10)], [micro(1, 10), micro(2, 10)])["micro"]
    assert (counts.tp, counts.fp, counts.fn) == (1, 1, 0)
    assert counts.precision == 0.5 and counts.recall == 1.0
    assert counts.f1 == pytest.approx(2 / 3)


def test_kinds_never_match_each_other():
    result = evaluate_spotting({"v": [micro(1, 10)]}, {"v": [macro(1, 10)]})
    assert (result["micro"]["tp"], result["micro"]["fn"], result["micro"]["fp"]) == (0, 1, 0)
    assert (result["macro"]["tp"], result["macro"]["fp"], result["macro"]["fn"]) == (0, 1, 0)
    assert result["overall"] == {"tp": 0, "fp": 1, "fn": 1, "precision": 0.0, "recall": 0.0,
                                 "f1": 0.0, "truth": 1, "spotted": 1}


def test_videos_never_match_each_other():
    result = evaluate_spotting({"a": [micro(1, 10)], "b": []}, {"b": [micro(1, 10)]})
    assert (result["micro"]["tp"], result["micro"]["fp"], result["micro"]["fn"]) == (0, 1, 1)
    assert result["videos"] == 2


def test_nothing_spotted_gives_zeros_without_dividing_by_zero():
    result = evaluate_spotting({"v": [micro(1, 10), macro(30, 80)]}, {})
    for entry in ("micro", "macro", "overall"):
        assert result[entry]["spotted"] == 0
        assert result[entry]["precision"] == result[entry]["recall"] == result[entry]["f1"] == 0.0
    assert result["overall"]["fn"] == 2


def test_no_truth_gives_zeros_without_dividing_by_zero():
    result = evaluate_spotting({"v": []}, {"v": [micro(1, 10)]})
    assert result["micro"] == {"tp": 0, "fp": 1, "fn": 0, "precision": 0.0, "recall": 0.0,
                               "f1": 0.0, "truth": 0, "spotted": 1}
    empty = evaluate_spotting({}, {})
    assert empty["videos"] == 0
    assert empty["overall"] == SpottingCounts().as_dict()


def test_overall_pools_the_counts_of_both_kinds():
    truth = {
        "a": [micro(1, 10), macro(100, 200)],
        "b": [macro(10, 60), macro(300, 400), macro(500, 600)],
    }
    spotted = {
        "a": [micro(1, 10), micro(50, 60), macro(100, 200)],
        "b": [],
    }
    result = evaluate_spotting(truth, spotted)
    # micro: TP 1, FP 1, FN 0 -> P 1/2, R 1, F1 2/3.
    assert (result["micro"]["tp"], result["micro"]["fp"], result["micro"]["fn"]) == (1, 1, 0)
    assert result["micro"]["f1"] == pytest.approx(2 / 3, abs=1e-6)
    # macro: TP 1, FP 0, FN 3 -> P 1, R 1/4, F1 2/5.
    assert (result["macro"]["tp"], result["macro"]["fp"], result["macro"]["fn"]) == (1, 0, 3)
    assert result["macro"]["f1"] == pytest.approx(0.4)
    # overall: TP 2, FP 1, FN 3 -> P 2/3, R 2/5, F1 1/2 (the mean of the two F1s would be 8/15).
    overall = result["overall"]
    assert (overall["tp"], overall["fp"], overall["fn"]) == (2, 1, 3)
    assert overall["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert overall["recall"] == pytest.approx(0.4)
    assert overall["f1"] == pytest.approx(0.5)
    assert (overall["truth"], overall["spotted"]) == (5, 3)
    assert json.loads(json.dumps(result)) == result


def test_matching_finds_the_most_true_positives():
    # X overlaps A best (0.82) but also B (0.67); Y overlaps only A (0.70). Matching X to A by
    # descending IoU would leave B unmatched; the maximum matching pairs X-B and Y-A.
    a, b = micro(1, 10), micro(4, 13)
    x, y = micro(2, 11), micro(1, 7)
    assert iou(x, a) > iou(y, a) >= 0.5 and iou(x, b) >= 0.5 > iou(y, b)
    assert match_intervals([a, b], [x, y]) == [(0, 1), (1, 0)]
    counts = video_counts([a, b], [x, y])["micro"]
    assert (counts.tp, counts.fp, counts.fn) == (2, 0, 0)


def test_matching_prefers_the_best_overlap_when_the_count_is_the_same():
    truth = [micro(1, 10)]
    assert match_intervals(truth, [micro(1, 12), micro(1, 10), micro(2, 10)]) == [(0, 1)]


def test_per_video_rows():
    rows = per_video({"a": [micro(1, 10)], "b": [macro(1, 50)]}, {"a": [micro(1, 10)]})
    assert [(r["video"], r["kind"], r["tp"], r["fp"], r["fn"]) for r in rows] == [
        ("a", "micro", 1, 0, 0), ("a", "macro", 0, 0, 0),
        ("b", "micro", 0, 0, 0), ("b", "macro", 0, 0, 1),
    ]


def test_spotted_video_without_truth_is_an_error():
    with pytest.raises(SpottingEvaluationError, match=r"1 videos without ground truth \('x'\)"):
        evaluate_spotting({"a": []}, {"x": [micro(1, 10)]})


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5])
def test_threshold_outside_the_unit_interval_is_an_error(threshold):
    with pytest.raises(SpottingEvaluationError, match="outside"):
        evaluate_spotting({}, {}, iou_threshold=threshold)
