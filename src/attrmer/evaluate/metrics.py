"""Classification metrics of micro-expression recognition: accuracy, UF1, UAR, recall, confusion.

Micro-expression datasets are small and strongly imbalanced (CASME II has about four times as
many "others"/"disgust" clips as "sadness"), so accuracy alone rewards predicting the majority
class. The field therefore reports two unweighted means over classes beside it (MEGC 2019):

- UF1 (unweighted F1): per-class F1 = 2·TP / (2·TP + FP + FN), then the plain mean over classes.
- UAR (unweighted average recall): per-class recall = TP / N_c, then the plain mean over classes.

Classes that do not occur. A class can be absent from one fold's test subjects (LOSO) or from a
small test set. We follow the MEGC convention, where the metric is taken over the classes that
the evaluation can say something about:

- UF1 averages over the classes that occur in `y_true` or in `y_pred`. A class absent from both
  has no F1 (0/0) and is left out; a class that is only predicted (never true) has F1 = 0 and
  counts. This equals scikit-learn's ``f1_score(average="macro")`` over the labels it sees.
- UAR averages over the classes that occur in `y_true`; recall is undefined for the others.
  This equals ``recall_score(average="macro", labels=<classes present in y_true>)``.

Under LOSO the MEGC computes both over the predictions of all folds pooled, not per fold; the
caller pools (see `attrmer.evaluate.summary`). Everything here is numpy only, on integer class
indices. Not for reading prediction files or aggregating seeds: that is `summary`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def _as_labels(y: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(y)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class indices, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise ValueError(f"{name}: class indices must be integers")
        array = array.astype(np.int64)
    return array.astype(np.int64, copy=False)


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true, pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} labels but y_pred has {pred.size}")
    if true.size == 0:
        raise ValueError("no predictions to score")
    return true, pred


def _label_set(true: np.ndarray, pred: np.ndarray, labels: Sequence[int] | None) -> np.ndarray:
    """The class indices the confusion matrix is indexed by (sorted)."""
    if labels is None:
        return np.union1d(true, pred)
    label_array = np.asarray(list(labels), dtype=np.int64)
    if len(np.unique(label_array)) != len(label_array):
        raise ValueError(f"labels repeat: {list(labels)}")
    unknown = np.setdiff1d(np.union1d(true, pred), label_array)
    if unknown.size:
        raise ValueError(f"class indices {unknown.tolist()} are not among labels {list(labels)}")
    return label_array


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int] | None = None
) -> np.ndarray:
    """Counts C[i, j] of samples of class labels[i] predicted as labels[j] (rows: truth).

    `labels` fixes the classes and their order (for example ``range(n_classes)``, so that a class
    missing from this run still gets its row and column); by default the sorted classes seen.
    """
    true, pred = _pair(y_true, y_pred)
    label_array = _label_set(true, pred, labels)
    order = np.argsort(label_array)
    row = order[np.searchsorted(label_array[order], true)]
    column = order[np.searchsorted(label_array[order], pred)]
    n = len(label_array)
    return np.bincount(row * n + column, minlength=n * n).reshape(n, n)


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of samples predicted correctly, in [0, 1]."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(true == pred))


def per_class_recall(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int] | None = None
) -> np.ndarray:
    """Recall of each class in `labels` order; NaN for a class with no true sample."""
    matrix = confusion_matrix(y_true, y_pred, labels).astype(np.float64)
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(matrix) / support, np.nan)


def per_class_f1(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int] | None = None
) -> np.ndarray:
    """F1 of each class in `labels` order; NaN for a class absent from both truth and prediction."""
    matrix = confusion_matrix(y_true, y_pred, labels).astype(np.float64)
    true_positive = np.diag(matrix)
    false_negative = matrix.sum(axis=1) - true_positive
    false_positive = matrix.sum(axis=0) - true_positive
    denominator = 2 * true_positive + false_positive + false_negative
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * true_positive / denominator, np.nan)


def uar(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int] | None = None) -> float:
    """Unweighted average recall: mean recall over the classes present in `y_true`."""
    return float(np.nanmean(per_class_recall(y_true, y_pred, labels)))


def uf1(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int] | None = None) -> float:
    """Unweighted F1: mean per-class F1 over the classes present in `y_true` or `y_pred`."""
    return float(np.nanmean(per_class_f1(y_true, y_pred, labels)))
