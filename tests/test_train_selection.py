"""Calibration's predictions come from epochs chosen without the clips they predict."""

import numpy as np
import pandas as pd

from attrmer.train.selection import best_epoch, cross_fitted_validation, validation_halves


def _rows(subjects, labels):
    return pd.DataFrame({"key": [f"c{i:02d}" for i in range(len(labels))],
                         "subject": subjects, "label": labels})


def _one_hot(predicted, n_classes=3, confidence=0.8):
    probabilities = np.full((len(predicted), n_classes), (1 - confidence) / (n_classes - 1))
    probabilities[np.arange(len(predicted)), predicted] = confidence
    return probabilities.astype(np.float32)


def test_halves_keep_each_person_on_one_side():
    rows = _rows(["s2", "s1", "s3", "s1", "s2", "s4"], [0, 1, 2, 0, 1, 2])
    halves = validation_halves(rows)
    for subject in set(rows["subject"]):
        assert len(set(halves[rows["subject"] == subject])) == 1
    assert set(halves) == {0, 1}


def test_one_subject_alternates_within_each_class():
    rows = _rows(["s1"] * 6, [0, 0, 1, 1, 2, 2])
    halves = validation_halves(rows)
    for label in (0, 1, 2):
        assert sorted(halves[rows["label"] == label]) == [0, 1]
    # One clip per class: still two halves, each choosing for the other.
    assert set(validation_halves(_rows(["s1"] * 3, [0, 1, 2]))) == {0, 1}


def test_each_half_is_predicted_at_the_epoch_the_other_half_chose():
    rows = _rows(["s1"] * 4, [0, 0, 1, 1])
    halves = validation_halves(rows)  # [0, 1, 0, 1]
    labels = rows["label"].to_numpy()
    wrong = 1 - labels
    # Epoch 1 is right on half 0 only, epoch 2 on half 1 only.
    epoch_1 = np.where(halves == 0, labels, wrong)
    epoch_2 = np.where(halves == 1, labels, wrong)
    scored = {1: _one_hot(epoch_1, 2), 2: _one_hot(epoch_2, 2)}
    probabilities, epochs = cross_fitted_validation(rows, scored)
    # Half 0 is predicted by the epoch half 1 chose (2), and the other way round: every clip
    # comes out wrong, as a clip would on an epoch picked by looking at other people.
    assert epochs.tolist() == [2, 1, 2, 1]
    assert (probabilities.argmax(1) == labels).sum() == 0
    # Selecting on all four clips ties on accuracy and falls back to the lower loss: either way
    # the selected epoch's own predictions would look half right.
    assert best_epoch(scored, labels) in (1, 2)


def test_a_single_epoch_is_every_clips_epoch():
    rows = _rows(["s1", "s2", "s3"], [0, 1, 2])
    scored = {1: _one_hot(np.array([0, 1, 0]))}
    probabilities, epochs = cross_fitted_validation(rows, scored)
    assert epochs.tolist() == [1, 1, 1]
    np.testing.assert_array_equal(probabilities, scored[1])
