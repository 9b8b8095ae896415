"""Metrics against scikit-learn on hand-made predictions, including absent classes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from attrmer.evaluate.metrics import (
    accuracy,
    confusion_matrix,
    per_class_f1,
    per_class_recall,
    uar,
    uf1,
)

# Five classes (0..4). Class 3 is never true and never predicted; class 4 is predicted but
# never true, which must cost UF1 (F1 = 0) without entering UAR.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 4, 1, 1, 0, 2, 2, 4, 2, 0])
LABELS = list(range(5))


def test_uf1_matches_sklearn_macro_f1_with_a_missing_and_a_spurious_class() -> None:
    expected = sk.f1_score(Y_TRUE, Y_PRED, average="macro")
    assert uf1(Y_TRUE, Y_PRED, LABELS) == pytest.approx(expected)
    # By hand: F1 = 2TP / (2TP + FP + FN) per class 0, 1, 2, 4; class 3 is left out.
    by_hand = np.mean([2 * 2 / (2 * 2 + 2 + 2), 2 * 2 / (2 * 2 + 1 + 1),
                       2 * 3 / (2 * 3 + 0 + 2), 0.0])
    assert uf1(Y_TRUE, Y_PRED, LABELS) == pytest.approx(by_hand)


def test_uar_matches_sklearn_macro_recall_over_present_classes() -> None:
    present = sorted(set(Y_TRUE.tolist()))
    expected = sk.recall_score(Y_TRUE, Y_PRED, average="macro", labels=present)
    assert uar(Y_TRUE, Y_PRED, LABELS) == pytest.approx(expected)
    assert uar(Y_TRUE, Y_PRED, LABELS) == pytest.approx(np.mean([2 / 4, 2 / 3, 3 / 5]))


@pytest.mark.parametrize("seed", range(5))
def test_uf1_uar_accuracy_match_sklearn_on_random_imbalanced_predictions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.choice(6, size=40, p=[0.4, 0.25, 0.15, 0.1, 0.1, 0.0])
    y_pred = np.where(rng.random(40) < 0.6, y_true, rng.integers(0, 6, size=40))
    present = sorted(set(y_true.tolist()))
    assert uf1(y_true, y_pred, range(6)) == pytest.approx(sk.f1_score(y_true, y_pred,
                                                                      average="macro"))
    assert uar(y_true, y_pred, range(6)) == pytest.approx(
        sk.recall_score(y_true, y_pred, average="macro", labels=present))
    assert accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred))


def test_confusion_matrix_matches_sklearn_and_keeps_absent_classes() -> None:
    ours = confusion_matrix(Y_TRUE, Y_PRED, LABELS)
    np.testing.assert_array_equal(ours, sk.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS))
    assert ours.shape == (5, 5)
    assert ours[3].sum() == 0 and ours[:, 3].sum() == 0
    assert ours.sum() == len(Y_TRUE)


def test_confusion_matrix_follows_the_given_label_order() -> None:
    ours = confusion_matrix([0, 1, 1], [1, 1, 0], labels=[1, 0])
    np.testing.assert_array_equal(ours, [[1, 1], [1, 0]])


def test_per_class_recall_and_f1_are_nan_where_undefined() -> None:
    recall = per_class_recall(Y_TRUE, Y_PRED, LABELS)
    f1 = per_class_f1(Y_TRUE, Y_PRED, LABELS)
    np.testing.assert_allclose(recall[[0, 1, 2]], [0.5, 2 / 3, 0.6])
    assert np.isnan(recall[3]) and np.isnan(recall[4])
    assert np.isnan(f1[3]) and f1[4] == 0.0
    np.testing.assert_allclose(
        f1[[0, 1, 2, 4]],
        sk.f1_score(Y_TRUE, Y_PRED, labels=[0, 1, 2, 4], average=None),
    )


def test_default_labels_are_the_classes_seen() -> None:
    assert uf1(Y_TRUE, Y_PRED) == pytest.approx(uf1(Y_TRUE, Y_PRED, LABELS))
    assert confusion_matrix(Y_TRUE, Y_PRED).shape == (4, 4)


def test_perfect_and_all_wrong_predictions() -> None:
    y = np.array([0, 1, 2, 2])
    assert accuracy(y, y) == uf1(y, y) == uar(y, y) == 1.0
    wrong = np.array([1, 2, 0, 0])
    assert accuracy(y, wrong) == uf1(y, wrong) == uar(y, wrong) == 0.0


@pytest.mark.parametrize(
    ("y_true", "y_pred", "labels", "message"),
    [
        ([0, 1], [0], None, "y_true has 2 labels but y_pred has 1"),
        ([], [], None, "no predictions"),
        ([0, 5], [0, 1], [0, 1, 2], r"class indices \[5\] are not among labels"),
        ([0.5, 1], [0, 1], None, "must be integers"),
        ([0, 1], [0, 1], [0, 0, 1], "labels repeat"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(y_true, y_pred, labels, message) -> None:
    with pytest.raises(ValueError, match=message):
        uf1(y_true, y_pred, labels)
