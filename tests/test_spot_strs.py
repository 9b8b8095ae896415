"""Spot-then-recognise (STRS): the challenge's published example, the classes, the joint F1,
and the corpus-level readers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from attrmer.spot.evaluate import evaluate_spotting
from attrmer.spot.intervals import Interval
from attrmer.spot.strs import (
    Labelled,
    analysis_scores,
    megc_class_of_emotion,
    megc_class_of_objective,
    score_strs,
)


def _labelled(onset: int, offset: int, label: str | None, kind: str = "micro") -> Labelled:
    return Labelled(Interval(onset, onset, offset, kind), label)


def _strs(truth, spotted, classes):
    spotting = evaluate_spotting({k: [t.interval for t in v] for k, v in truth.items()},
                                 {k: [s.interval for s in v] for k, v in spotted.items()})
    return spotting, score_strs(truth, spotted, spotting, iou=0.5, classes=classes)


def test_the_scoring_tools_published_example_gives_its_strs():
    """The example in the README of the challenge's STRS tool: five predicted and five
    annotated intervals, the analysis classes being the annotated emotions; STRS 0.2."""
    truth = {"1/EP02_01f": [_labelled(45, 85, "happiness")],
             "1/EP03_02": [_labelled(130, 160, "others")],
             "1/EP04_02": [_labelled(20, 75, "others")],
             "2/EP01_11f": [_labelled(45, 95, "repression")],
             "2/EP02_04f": [_labelled(30, 140, "repression")]}
    spotted = {"1/EP02_01f": [_labelled(10, 70, "happiness")],
               "1/EP03_02": [_labelled(100, 170, "others")],
               "1/EP04_02": [_labelled(0, 70, "others")],
               "2/EP01_11f": [_labelled(20, 90, "happiness")],
               "2/EP02_04f": [_labelled(70, 140, "happiness")]}
    spotting, strs = _strs(truth, spotted, classes=("happiness", "others", "repression"))
    assert (spotting["overall"]["tp"], spotting["overall"]["fp"], spotting["overall"]["fn"]) \
        == (3, 2, 2)
    overall = strs["overall"]
    assert overall["f1_spot"] == pytest.approx(0.6)
    assert overall["f1_analysis"] == pytest.approx(1 / 3, abs=1e-6)
    assert overall["strs"] == pytest.approx(0.2, abs=1e-6)
    assert strs["micro"]["strs"] == overall["strs"]  # every interval here is a micro one


def test_megc_classes_of_objective_classes_and_of_model_labels():
    assert [megc_class_of_objective(c) for c in ("I", "II", "III", "IV", "V", "VI", "VII", "")] \
        == ["positive", "surprise", "negative", "negative", "negative", "negative", None, None]
    assert [megc_class_of_emotion(e) for e in ("Happiness", "disgust", "repression", "sadness",
                                                "surprise", "others")] \
        == ["positive", "negative", "negative", "negative", "surprise", None]


def test_a_class_every_pair_gets_right_scores_one():
    scores = analysis_scores([("negative", "negative")] * 3)
    assert scores["per_class"]["negative"]["f1"] == 1.0
    # positive and surprise never occur: precision and recall 0 there, as the tool counts them.
    assert scores["precision"] == pytest.approx(1 / 3, abs=1e-6)
    assert scores["uar"] == scores["recall"]


def test_no_analysed_pair_gives_zero_without_dividing_by_zero():
    assert analysis_scores([])["f1"] == 0.0


def test_types_others_and_the_joint_f1():
    truth = {"v": [_labelled(10, 20, "negative"), _labelled(40, 50, "positive"),
                   _labelled(70, 80, None),                       # others: spotted, not analysed
                   _labelled(100, 180, "surprise", kind="macro"),
                   _labelled(300, 310, "negative")]}              # missed
    spotted = {"v": [_labelled(10, 20, "negative"), _labelled(40, 50, "negative"),
                     _labelled(70, 80, "positive"), _labelled(100, 180, "surprise", "macro"),
                     _labelled(500, 510, "positive")]}            # a false positive
    spotting, strs = _strs(truth, spotted, classes=("negative", "positive", "surprise"))
    micro = strs["micro"]
    # Spotting: 3 of 4 micro truths found, 4 micro intervals spotted.
    assert micro["f1_spot"] == pytest.approx(spotting["micro"]["f1"], abs=1e-6)
    assert micro["analysis"]["pairs"] == 2 and micro["analysis"]["right"] == 1
    # Joint: right 1; spotted 4 micro less the one matched to "others"; truths with a class 3.
    assert (micro["joint"]["tp"], micro["joint"]["fp"], micro["joint"]["fn"]) == (1, 2, 2)
    # One macro pair, right: surprise scores 1, while negative and positive, absent from the
    # analysed pairs, score 0 as in the tool; spotting is perfect.
    assert strs["macro"]["strs"] == pytest.approx(1 / 3, abs=1e-6)
    assert strs["overall"]["analysis"]["pairs"] == 3
    assert strs["overall"]["strs"] == pytest.approx(
        spotting["overall"]["f1"] * strs["overall"]["f1_analysis"], abs=1e-6)


def test_recognised_intervals_and_the_labelled_truth_of_a_delivery(tmp_path: Path):
    from attrmer.datasets.casme3_lv import read_long_videos
    from attrmer.spot.run import SpottingInputError, labelled_truth, read_recognised
    from tests.test_casme3_lv import BLINKS, EXPRESSIONS, write_sheet

    write_sheet(tmp_path / "CAS(ME)3_part_A_v2.xlsx", EXPRESSIONS, BLINKS)
    truth = labelled_truth(read_long_videos(tmp_path / "CAS(ME)3_part_A_v2.xlsx"))
    # Without frames on disk, no row is past the video's end: all three of spNO.1/a count.
    assert truth["spNO.1/a"] == [Labelled(Interval(5, 8, 12, "micro"), "positive"),
                                 Labelled(Interval(20, 25, 38, "macro"), "negative"),
                                 Labelled(Interval(30, 35, 45, "macro"), "negative")]
    assert truth["spNO.40/e"] == []  # its one row (offset 0) is unusable: a miss, not analysed
    recognised = tmp_path / "recognised.csv"
    pd.DataFrame([{"video_key": "spNO.1/a", "onset": 5, "apex": 8, "offset": 12,
                   "kind": "micro", "label": "happiness"},
                  {"video_key": "spNO.1/a", "onset": 20, "apex": 25, "offset": 38,
                   "kind": "macro", "label": ""}]).to_csv(recognised, index=False)
    assert read_recognised(recognised) == {"spNO.1/a": [
        Labelled(Interval(5, 8, 12, "micro"), "positive"),
        Labelled(Interval(20, 25, 38, "macro"), None)]}
    recognised.write_text("video_key,onset,apex,offset,kind,label\nspNO.1/a,5,8,x,micro,sad\n")
    with pytest.raises(SpottingInputError, match="row 2"):
        read_recognised(recognised)
